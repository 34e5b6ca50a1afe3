"""Audio branch on LJSpeech real vs MelGAN re-synthesis, trained on real speech and pseudo-fakes only.

    .venv/bin/python benchmarks/audio_ljspeech.py [-o runs/audio_ljspeech] [--folds 3] [--with-melgan]

The speech in ../shared/data/speech (LibriSpeech 120 speakers, VCTK 4 utterances, LJSpeech 33 real
utterances and their MelGAN re-synthesis ``*_gen.wav``) becomes a manifest whose LJSpeech groups are
utterances: a real utterance and its MelGAN copy share a group, so they never straddle two folds.
LibriSpeech and VCTK are grouped by speaker. Every fold's model trains on the real speech of the other
folds and the pseudo-fakes made from it (by default re-phased and vocoder-like copies, see
``--fakers``; splices; codec and noise channel on both classes); the MelGAN files are left out of
training (they are only scored out of fold) unless ``--with-melgan`` is given, which makes the
separate, clearly labelled cross-validation that does train on MelGAN fakes. ``--speaker-disjoint`` puts all of LJSpeech in one fold instead, so its
model has never heard the LJSpeech speaker. The table gives window and file (mean of windows) AUC and
EER on the LJSpeech files, out of fold, and how well each fold's model finds the pseudo-fakes of its
held-out speech (its own task on unseen voices). Times are wall-clock and CPU seconds on this shared
machine; a rerun on a finished output folder reuses its bank and models, so its times cover only that.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("AVDETECT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SPEECH = SHARED / "speech"


def speech_rows(root: Path, *, speaker_disjoint: bool = False) -> list:
    """Manifest rows of the shared speech folder; MelGAN files are FAKE and share their source's group."""
    from avdetect.corpus.manifest import ManifestRow

    rows = []
    for path in sorted((root / "librispeech").glob("*.flac")):
        speaker = path.stem.split("-")[0]
        rows.append(ManifestRow(path=path, label="REAL", audio_label="REAL", group=f"libri-{speaker}",
                                actor=f"libri-{speaker}", dataset="librispeech"))
    for path in sorted((root / "vctk").glob("*.flac")):
        speaker, utterance = path.stem.split("_")[:2]
        rows.append(ManifestRow(path=path, label="REAL", audio_label="REAL", group=f"vctk-{speaker}_{utterance}",
                                actor=f"vctk-{speaker}", dataset="vctk"))
    for path in sorted((root / "ljspeech-melgan").glob("*.wav")):
        fake = path.stem.endswith("_gen")
        label = "FAKE" if fake else "REAL"
        rows.append(ManifestRow(path=path, label=label, audio_label=label, group=path.stem.removesuffix("_gen"),
                                actor="ljspeech" if speaker_disjoint else None, dataset="ljspeech-melgan"))
    return rows


def read_oof(path: Path) -> dict[str, np.ndarray]:
    """Columns of an oof.csv: path (str), label and fold (int64), probability (float64)."""
    with path.open(newline="") as f:
        records = list(csv.DictReader(f))
    return {"path": np.array([r["path"] for r in records]), "label": np.array([int(r["label"]) for r in records]),
            "fold": np.array([int(r["fold"]) for r in records]),
            "probability": np.array([float(r["probability"]) for r in records])}


def scores(oof: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, dict]:
    """Window-level and file-level (mean probability) metrics of the OOF rows in `mask`."""
    from avdetect.training.report import video_means
    from stacking.metrics import summarize

    paths, labels, probs = oof["path"][mask], oof["label"][mask], oof["probability"][mask]
    return {"window": summarize(labels, probs), "file": summarize(*video_means(paths, labels, probs))}


def print_table(results: dict[str, dict[str, dict]]) -> None:
    print(f"{'scope':<34}{'level':<8}{'n':>6}{'fake':>6}{'AUC':>8}{'EER':>8}")
    for scope, levels in results.items():
        for level, m in levels.items():
            print(f"{scope:<34}{level:<8}{m.n:>6}{m.n_fake:>6}{m.auc:>8.3f}{m.eer:>8.3f}")


def build_trainer(rows: list, args: argparse.Namespace):
    from avdetect.branches.audio import AudioModelConfig
    from avdetect.perception.video import load_audio
    from avdetect.training.audio import AudioTrainConfig, AudioTrainer, load_sources
    from avdetect.training.audio_data import ViewConfig
    from avdetect.training.epochs import TrainConfig

    views = ViewConfig(fakers=tuple(args.fakers.split(",")), full_fakes=args.full_fakes, spliced=args.spliced,
                       max_source_s=args.max_source_s)
    train = TrainConfig(epochs=args.epochs, steps_per_epoch=args.steps, batch_size=args.batch_size, lr=args.lr,
                        seed=args.seed, quick=args.quick, eval_every_epoch=args.curves)
    config = AudioTrainConfig(model=AudioModelConfig(backbone=args.backbone), views=views, train=train)
    sources, skipped = load_sources(rows, lambda p: load_audio(p, config.mel.sample_rate))
    if skipped:
        raise SystemExit(f"could not read {skipped}")
    trainable = [args.with_melgan or not s.path.endswith("_gen.wav") for s in sources]
    return AudioTrainer(sources, config=config, trainable=trainable, bank_path=args.bank or args.output / "audio_bank.npz")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("runs/audio_ljspeech"))
    parser.add_argument("--bank", type=Path, help="window bank .npz (default OUTPUT/audio_bank.npz); runs that "
                        "differ only in --with-melgan, --speaker-disjoint or training options can share one")
    parser.add_argument("--folds", type=int, default=3, help="folds (default 3)")
    parser.add_argument("--with-melgan", action="store_true", help="also train on the MelGAN fakes of other folds")
    parser.add_argument("--speaker-disjoint", action="store_true", help="all LJSpeech files in one fold")
    parser.add_argument("--backbone", default="resnet10t")
    parser.add_argument("--fakers", default="phase,vocoder", help="voice pseudo-fakes (default phase,vocoder, as "
                        "`avdetect train audio`)")
    parser.add_argument("--full-fakes", type=int, default=2)
    parser.add_argument("--spliced", type=int, default=1)
    parser.add_argument("--max-source-s", type=float, default=6.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=40, help="steps per epoch (default 40)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: a few steps per fold")
    parser.add_argument("--curves", action="store_true", help="score the held-out fold after every epoch")
    return parser.parse_args()


def heldout_bank_scores(trainer, folds: np.ndarray, out_dir: Path) -> dict[str, dict]:
    """Metrics of each fold's model on the training views (channel copies, pseudo-fakes) of its held-out
    videos: does the branch learn its own task on voices it has not heard?"""
    from avdetect.branches.audio import AudioClassifier
    from stacking.metrics import summarize

    fold_of_source = dict(zip(trainer.clean.source.tolist(), folds.tolist()))
    source_fold = np.array([fold_of_source.get(i, -1) for i in trainer.bank.source.tolist()])
    real_speech = np.array([trainer.sources[i].label == 0 for i in trainer.bank.source.tolist()], bool)
    probs = np.full(len(trainer.bank), np.nan, np.float32)
    for k in sorted(set(folds.tolist())):
        rows = np.flatnonzero((source_fold == k) & real_speech)
        model = AudioClassifier.load(out_dir / f"fold{k}" / "model.json")
        probs[rows] = model.predict_windows(trainer.bank.mels[rows].astype(np.float32))
    keep = ~np.isnan(probs)
    return {"window": summarize(trainer.bank.labels[keep].astype(np.int64), probs[keep])}


def train(args: argparse.Namespace) -> dict[str, float]:
    """Writes manifest, folds, models and oof.csv under args.output; returns wall and CPU seconds."""
    from avdetect.corpus.folds import align_folds, assign_folds, read_folds, write_folds
    from avdetect.corpus.manifest import write_manifest
    from avdetect.training.folds_loop import run_folds
    from avdetect.training.progress import rich_progress

    rows = speech_rows(SPEECH, speaker_disjoint=args.speaker_disjoint)
    args.output.mkdir(parents=True, exist_ok=True)
    write_manifest(rows, args.output / "manifest.csv")
    write_folds(rows, assign_folds(rows, n_splits=args.folds, seed=args.seed), args.output / "folds.csv")
    t0, c0 = time.perf_counter(), time.process_time()
    trainer = build_trainer(rows, args)
    t1, c1 = time.perf_counter(), time.process_time()
    folds = align_folds(trainer.index.videos, read_folds(args.output / "folds.csv"))
    with rich_progress() as progress:
        run_folds(trainer, folds, out_dir=args.output, progress=progress)
    t2, c2 = time.perf_counter(), time.process_time()
    heldout = heldout_bank_scores(trainer, folds, args.output)
    (args.output / "heldout_views.json").write_text(json.dumps(heldout, indent=2))
    return {"bank_s": t1 - t0, "bank_cpu_s": c1 - c0, "train_s": t2 - t1, "train_cpu_s": c2 - c1}


def report(args: argparse.Namespace, times: dict[str, float]) -> None:
    """Prints the table of OOF scores on LJSpeech and writes OUTPUT/benchmark.json."""
    oof = read_oof(args.output / "oof.csv")
    lj = np.char.find(oof["path"], "ljspeech-melgan") >= 0
    results = {"LJSpeech real vs MelGAN (OOF)": scores(oof, lj), "all files (OOF)": scores(oof, np.ones(len(lj), bool))}
    results["held-out speech + pseudo-fakes"] = json.loads((args.output / "heldout_views.json").read_text())
    for k in sorted(set(oof["fold"][lj].tolist())):
        results[f"LJSpeech fold {k}"] = scores(oof, lj & (oof["fold"] == k))
    label = "WITH MelGAN fakes in training" if args.with_melgan else "pseudo-fakes only, no MelGAN in training"
    grouping = "speaker" if args.speaker_disjoint else "utterance"
    print(f"\naudio branch, {label}; {args.folds} folds, {grouping}-grouped LJSpeech; bank {times['bank_s']:.0f} s "
          f"wall ({times['bank_cpu_s']:.0f} s CPU), training + OOF {times['train_s']:.0f} s wall "
          f"({times['train_cpu_s']:.0f} s CPU)")
    print(f"command: {' '.join(sys.argv)}")
    print_table(results)
    summary = {"args": {k: str(v) for k, v in vars(args).items()}, **times, "results": results}
    (args.output / "benchmark.json").write_text(json.dumps(summary, indent=2))


def main() -> int:
    args = parse_args()
    if not SPEECH.is_dir():
        print(f"skipped: shared speech data not found under {SPEECH}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    report(args, train(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
