"""Visual branch on DFDC face crops, trained on real faces and blended pseudo-fakes only.

    .venv/bin/python benchmarks/visual_dfdc_crops.py [-o runs/visual_dfdc_crops] [--utk 2400] [--steps 120]
        [--epochs 2] [--paired] [--p-cross 0.5] [--input-size 192]
    .venv/bin/python benchmarks/visual_dfdc_crops.py --model runs/visual/refit/model.json   # score a trained model

Training sees no DFDC fake: real UTKFace chips (``faces/utkface-8k.zip``, tight aligned faces whose
landmarks MTCNN finds) and real face tracks of the FaceForensics++ originals and the DFDC real face
videos (``video/``, through `avdetect.corpus.extract` into a cache and `avdetect.training.visual.load_crops`),
each real crop turned into a blended fake half the time: a self-blend, or with ``--p-cross`` that share
of the fakes a cross-blend (another chip's face, nearest in pose, colour-matched and pasted in). The
refit model then scores every crop of ``faces/dfdc-crops`` (train, valid and test splits: 83 real, 83
fake, never trained on). Those crops are tight face boxes of unknown margin, resized to the model's
input; training therefore zooms in on its margin crops more often than the default. The table gives
frame AUC and EER per split and overall, video AUC (mean of a video's crops), and the same on
self-blends of UTKFace chips held out of training (did the model learn its training task at all?).
With ``--model`` nothing is trained: that checkpoint (e.g. a `train visual` refit, whose margin crops
never included dfdc-crops) is scored the same way. Everything is cached under the output folder, so a
second run only re-scores. Times are wall-clock on
this (shared, noisy) machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from PIL import Image

SHARED = Path(os.environ.get("AVDETECT_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CROPS = SHARED / "faces" / "dfdc-crops"
UTK_ZIP = SHARED / "faces" / "utkface-8k.zip"
HELD_OUT = 200  # UTKFace chips, none of them trained on, whose self-blends check the training worked
REAL_VIDEOS = sorted((SHARED / "video" / "ffpp" / "youtube").glob("*.mp4")) + \
    sorted((SHARED / "video" / "dfdc-face-videos" / "REAL").glob("*.mp4"))


def utk_names(n: int, *, excluding: int | None = None) -> list[str]:
    """`n` evenly spread UTKFace file names; with `excluding`, chosen among the files that the
    `utk_names(excluding)` training choice leaves out."""
    with zipfile.ZipFile(UTK_ZIP) as z:
        names = sorted(z.namelist())
    if excluding is not None:
        taken = set(utk_names(excluding))
        names = [name for name in names if name not in taken]
    return names[:: max(1, len(names) // n)][:n]


def utk_crops(names: list[str], cached: Path, *, size: int = 224):
    """CropSet of UTKFace chips `names`, whole images resized to `size`, MTCNN landmarks (cached).

    The chips are tight aligned faces, so the chip itself is the crop (face box about the whole image, like
    the tight DFDC crops): a margin of a third would only add black borders (`avdetect face-images`)."""
    from avdetect.corpus.face_images import FaceImages, detect_faces, read_images
    from avdetect.training.visual_data import extra_reals

    if not cached.is_file():
        detect_faces(read_images(UTK_ZIP, names), size=size)[0].save(cached)
    return extra_reals(FaceImages.load(cached), size)


def video_crops(work: Path, *, frames_per_track: int):
    """CropSet of the real videos' face tracks, through the extraction cache."""
    from avdetect.corpus.cache_index import cache_loader
    from avdetect.corpus.extract import extract
    from avdetect.corpus.manifest import ManifestRow
    from avdetect.training.visual import load_crops

    rows = [ManifestRow(path=path, label="REAL", group=path.stem) for path in REAL_VIDEOS]
    extract(rows, work / "cache", workers=0)
    return load_crops(rows, cache_loader(work / "cache"), frames_per_track=frames_per_track)


def dfdc_crops() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All of dfdc-crops: uint8 images (N, 224, 224, 3), labels (N,), split (N,), video id (N,)."""
    paths = sorted(CROPS.glob("*/*/*.jpg"))
    images = np.stack([np.asarray(Image.open(p).convert("RGB").resize((224, 224), Image.BILINEAR)) for p in paths])
    labels = np.array([int(p.parent.name == "fake") for p in paths])
    videos = np.array([p.stem.split("_")[0] for p in paths])  # fakes: <fake>_<original>_<n>, reals: <id>_<n>
    return images, labels, np.array([p.parent.parent.name for p in paths]), videos


def train(args: argparse.Namespace, crops) -> Path:
    """Refits the visual branch on `crops` (resumable); returns the model's JSON path."""
    from avdetect.branches.visual import VisualConfig
    from avdetect.training.epochs import TrainConfig
    from avdetect.training.folds_loop import refit
    from avdetect.training.visual import VisualTrainConfig, VisualTrainer
    from avdetect.training.visual_augment import AugmentConfig

    augment = replace(AugmentConfig(), zoom=0.5, zoom_range=(0.55, 1.0))  # tight test crops: zoom in more
    config = VisualTrainConfig(
        model=VisualConfig(input_size=args.input_size), augment=augment, p_pseudo=0.5, p_cross=args.p_cross,
        paired=args.paired, frozen_stages=args.frozen_stages,
        train=TrainConfig(epochs=args.epochs, steps_per_epoch=args.steps, batch_size=args.batch_size, lr=args.lr,
                          seed=args.seed, micro_batch=args.micro_batch or None))
    model = args.output / "refit" / "model.json"
    return model if model.is_file() else refit(VisualTrainer(crops, config), out_dir=args.output / "refit",
                                                progress=_printer())


def _printer():
    start = time.perf_counter()

    def progress(tick) -> None:
        if tick.step % 20 == 0 or tick.step == tick.total:
            spent = time.perf_counter() - start
            eta = spent / tick.step * (tick.total - tick.step)
            print(f"  step {tick.step}/{tick.total} loss {tick.loss:.3f} ({spent:.0f} s, ~{eta:.0f} s left)",
                  file=sys.stderr)

    return progress


def evaluate(model: Path, work: Path, *, n_train_utk: int) -> dict[str, dict]:
    """Frame metrics of `model` per dfdc-crops split and overall, video metrics overall, and (the sanity
    check that training worked) frame metrics on self-blends of UTKFace chips it never saw."""
    from avdetect.branches.visual import VisualClassifier
    from avdetect.training.report import video_means
    from avdetect.training.visual_data import CropDataset
    from stacking.metrics import summarize

    classifier = VisualClassifier.load(model)
    images, labels, splits, videos = dfdc_crops()
    probs = classifier.predict_crops(images, batch_size=32)
    table = {split: summarize(labels[splits == split], probs[splits == split]) for split in sorted(set(splits))}
    table["all frames"] = summarize(labels, probs)
    table["all videos"] = summarize(*video_means(videos, labels, probs))
    names = utk_names(HELD_OUT, excluding=n_train_utk)
    if not names:  # every chip trained the model (--utk 8000): no sanity check is possible
        return table
    held_out = utk_crops(names, work / f"utk_heldout{HELD_OUT}_of{n_train_utk}.npz")
    pairs = CropDataset(held_out, p_pseudo=1.0, paired=True, augment=None, seed=12345)
    images = np.concatenate([pairs[i][0] for i in range(len(pairs))])  # real, self-blend, real, ...
    table["UTK blends*"] = summarize(np.tile([0, 1], len(pairs)), classifier.predict_crops(images))
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=Path("runs/visual_dfdc_crops"))
    parser.add_argument("--utk", type=int, default=2400, help="UTKFace images to use (default 2400)")
    parser.add_argument("--frames-per-track", type=int, default=32, help="crops per real video track (default 32)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=120, help="steps per epoch (default 120)")
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--micro-batch", type=int, default=0,
                        help="forward/backward passes of this many crops per step (default 0: the whole batch)")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--frozen-stages", type=int, default=2, help="backbone blocks kept at ImageNet weights")
    parser.add_argument("--paired", action="store_true", help="real/self-blend pairs in every batch")
    parser.add_argument("--p-cross", type=float, default=0.5, help="share of pseudo-fakes that are cross-blends "
                        "(default 0.5, as `avdetect train visual`)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, help="score this visual checkpoint (JSON) instead of training one")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)")
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's malloc thresholds (`avdetect` raises them: avdetect/allocator.py)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not args.default_malloc:
        from avdetect.allocator import keep_large_buffers

        keep_large_buffers()
    import torch

    from avdetect.training.visual_data import CropSet

    torch.set_num_threads(args.threads)
    args.output.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if args.model:
        model = args.model
        print(f"scoring {model} (not trained here)")
    else:
        utk = utk_crops(utk_names(args.utk), args.output / f"utk{args.utk}_224.npz")
        crops = CropSet.concat([utk, video_crops(args.output, frames_per_track=args.frames_per_track)])
        t1 = time.perf_counter()
        reused = (args.output / "refit" / "model.json").is_file()
        model = train(args, crops)
        print(f"training crops: {len(crops)} real ({len(set(crops.videos))} images/videos), no DFDC fake; "
              f"prepare {t1 - t0:.0f} s, train {'reused ' + str(model) if reused else f'{time.perf_counter() - t1:.0f} s'}")
    t2 = time.perf_counter()
    table = evaluate(model, args.output, n_train_utk=args.utk)
    print(f"score {time.perf_counter() - t2:.0f} s")
    print(f"{'dfdc-crops':<12} {'real':>5} {'fake':>5} {'AUC':>6} {'EER':>6} {'logloss':>8}")
    for name, m in table.items():
        print(f"{name:<12} {m.n - m.n_fake:>5} {m.n_fake:>5} {m.auc:>6.3f} {m.eer:>6.3f} {m.log_loss:>8.3f}")
    print("* held-out sanity check: UTKFace chips never trained on, each with its own self-blend"
          if "UTK blends*" in table else "(no UTKFace chip was left out of training: no sanity check)")
    (args.output / "results.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                          "dfdc_crops": {k: asdict(m) for k, m in table.items()}},
                                                         indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
