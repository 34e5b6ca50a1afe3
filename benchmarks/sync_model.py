"""Learnt sync (`sync_learnt` block) against the hand-made lip-sync features, on talkers the network never saw.

    .venv/bin/python benchmarks/sync_model.py --checkpoint /work/runs/sync_model/sync.json \
        --split /work/runs/sync_model/split.csv --cache /work/runs/cache

Sets: the held-out real clips of `split.csv` (actors and GRID never trained on), each one's audio 0.6 s late
(`pseudofakes.sync.shift_audio`), each one dubbed with the next held-out clip's audio (`replace_audio`),
the shared data's lip-sync fakes (Wav2Lip, VideoReTalking, MuseTalk, DINet, SadTalker video mode) and its
other talking-head fakes with audio. Variants get their speech found again on the new audio, as scoring
would. Prints each set's block statistics and the AUC of each feature (fake-ward orientation fixed in
advance, not fitted) for real against each other set; NaN rows (no sync evidence) are left out of an AUC.
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from avdetect.branches.sync import load_sync_model
from avdetect.corpus.cache_index import cache_loader
from avdetect.errors import AvdetectError
from avdetect.features.sync_learnt import NAMES, sync_block
from avdetect.perception.audio import detect_speech
from avdetect.perception.lipsync import SYNC_COLUMNS, clip_sync, sync_vector
from avdetect.pseudofakes.sync import replace_audio, shift_audio
from avdetect.records import Perception

DATA = Path("/work/shared/data")
LIPSYNC_FAMILIES = {"wav2lip", "videoretalking", "musetalk", "dinet"}
TALKING_HEAD_FAMILIES = {"sadtalker", "dreamtalk", "anitalker", "aniportrait", "edtalk", "geneface", "styletalk",
                         "musev", "text-to-video", "animated-portrait"}
# feature -> +1 when larger means fake, -1 when larger means real
LEARNT = {"sync_learnt_zero_margin": -1, "sync_learnt_window_margin_mean": -1, "sync_learnt_zero_rank": -1,
          "sync_learnt_abs_offset_s": 1, "sync_learnt_confidence": -1, "sync_learnt_window_in_sync": -1}
HANDMADE = {"abs_lag_s": 1, "peak": -1, "at_zero": -1, "sharpness": -1, "window_agreement": -1}


def with_audio(seen: Perception, audio: np.ndarray) -> Perception:
    """`seen` with another soundtrack and the speech found on it (the mouths and faces are the video's)."""
    speech = detect_speech(audio, seen.clip.sample_rate)
    sound = replace(seen.audio, speech_segments=speech)
    return replace(seen, clip=replace(seen.clip, audio=audio), audio=sound)


def rows_of(model, seen: Perception) -> dict[str, float]:
    learnt = dict(zip(NAMES, sync_block(seen, model)))
    hand = clip_sync(seen)
    return {**learnt, **dict(zip(SYNC_COLUMNS, sync_vector(hand)))}


def measure(model, load, split: Path, manifest: Path) -> dict[str, list[dict[str, float]]]:
    """Feature rows by set name."""
    with split.open() as f:
        rows = list(csv.DictReader(f))
    reals = [load(Path(r["path"])) for r in rows if r["split"] == "held_out"]
    trained = [load(Path(r["path"])) for r in rows if r["split"] == "train"]
    sets = {"real (trained on)": [rows_of(model, p) for p in trained],
            "real (held out)": [rows_of(model, p) for p in reals],
            "audio 0.6 s late": [rows_of(model, with_audio(p, shift_audio(p.clip.audio, p.clip.sample_rate, 0.6)))
                                 for p in reals],
            "dubbed": [rows_of(model, with_audio(p, replace_audio(p.clip.audio, q.clip.audio)))
                       for p, q in zip(reals, reals[1:] + reals[:1])]}
    with manifest.open() as f:
        fakes = [r for r in csv.DictReader(f) if r["path"].startswith("video/fake/") and r["label"] == "FAKE"]
    for name in ("lip-sync fakes", "talking-head fakes"):
        sets[name] = [rows_of(model, seen) for seen in _cached(load, [r for r in fakes if fake_set(r) == name])]
    return sets


def fake_set(row: dict[str, str]) -> str | None:
    """Which fake set a manifest row belongs to: SadTalker's video lip-sync mode re-renders only the mouth."""
    if row["family"] in LIPSYNC_FAMILIES or "video lip-sync" in row["generator"].lower():
        return "lip-sync fakes"
    return "talking-head fakes" if row["family"] in TALKING_HEAD_FAMILIES else None


def _cached(load, rows: list[dict[str, str]]):
    """The cached perceptions of `rows` that have a soundtrack (clips not extracted yet are skipped)."""
    for row in rows:
        try:
            seen = load(DATA / row["path"])
        except AvdetectError:
            continue
        if seen.audio is not None and len(seen.clip.audio):
            yield seen


def column(rows: list[dict[str, float]], name: str) -> np.ndarray:
    return np.array([r[name] for r in rows], np.float64)


def auc(real: np.ndarray, fake: np.ndarray, sign: int) -> str:
    real, fake = real[~np.isnan(real)], fake[~np.isnan(fake)]
    if not len(real) or not len(fake):
        return "  -  "
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    return f"{roc_auc_score(y, sign * np.r_[real, fake]):.3f}"


def print_tables(sets: dict[str, list[dict[str, float]]]) -> None:
    print("| set | n | sync evidence | zero_margin mean | q10 | q50 | q90 | confidence mean | abs offset mean (s) "
          "| |offset| <= 0.1 s | hand-made peak mean | hand-made |lag| mean (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, rows in sets.items():
        z, c, o = (column(rows, f"sync_learnt_{k}") for k in ("zero_margin", "confidence", "abs_offset_s"))
        ok = z[~np.isnan(z)]
        q = np.quantile(ok, [0.1, 0.5, 0.9]) if len(ok) else [np.nan] * 3
        print(f"| {name} | {len(rows)} | {np.mean(column(rows, NAMES[0])):.2f} | {np.nanmean(z):.3f} | {q[0]:.3f} | "
              f"{q[1]:.3f} | {q[2]:.3f} | {np.nanmean(c):.3f} | {np.nanmean(o):.2f} | {np.nanmean(o[~np.isnan(o)] <= 0.1):.2f} "
              f"| {np.nanmean(column(rows, 'peak')):.3f} | {np.nanmean(column(rows, 'abs_lag_s')):.2f} |")
    others = [n for n in sets if not n.startswith("real")]
    print(f"\nAUC, held-out real against each set\n\n| feature | {' | '.join(others)} |")
    print("|---|" + "---|" * len(others))
    real = sets["real (held out)"]
    for kind, features in (("learnt", LEARNT), ("hand-made", HANDMADE)):
        for feature, sign in features.items():
            cells = [auc(column(real, feature), column(sets[o], feature), sign) for o in others]
            print(f"| {kind}: {feature.removeprefix('sync_learnt_')} ({'+' if sign > 0 else '-'}) | {' | '.join(cells)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("/work/runs/sync_model/sync.json"))
    parser.add_argument("--split", type=Path, default=Path("/work/runs/sync_model/split.csv"))
    parser.add_argument("--cache", type=Path, default=Path("/work/runs/cache"))
    parser.add_argument("--manifest", type=Path, default=DATA / "MANIFEST.csv", help="the shared data's MANIFEST.csv")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    sets = measure(load_sync_model(args.checkpoint), cache_loader(args.cache), args.split, args.manifest)
    print_tables(sets)


if __name__ == "__main__":
    main()
