"""What `--fast` costs in accuracy: the same labelled shared-data videos scored in the full and fast modes.

    .venv/bin/python benchmarks/fast_mode.py [--n 40] [--model DIR] [--out rows.csv] [--modes full,fast,...]

Takes `--n` videos of ../shared/data MANIFEST.csv labelled REAL or FAKE, half each, round-robin over
their datasets (so every source is in), and scores each with the full and the fast Detector in this
process. Prints the AUC of each mode and, against the full mode, the mean and largest |p_mode - p_full|,
how many verdicts change and in how many videos fewer face tracks were found (recall), and the median
seconds per video. `--modes` adds variants: `fast_every_frame` (fast, but every frame decoded),
`fast_32_samples` (fast, but the spec's 32 sampled frames) and `crops_only` (only the CNN's crops cut:
must equal the full mode). The shipped model may have been trained on some of these videos: this is
a difference between the two modes, not a held-out accuracy.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perception import SHARED  # noqa: E402


def pick_videos(n: int) -> list[tuple[Path, int]]:
    """(path, 1 if FAKE) of n labelled videos, half of each label, round-robin over datasets."""
    by_label: dict[str, dict[str, list[Path]]] = {"REAL": defaultdict(list), "FAKE": defaultdict(list)}
    with open(SHARED / "MANIFEST.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["path"].startswith("video/") and row["label"] in by_label and (SHARED / row["path"]).is_file():
                by_label[row["label"]][row["dataset"]].append(SHARED / row["path"])
    chosen = []
    for label, groups in by_label.items():
        queues = [sorted(groups[d]) for d in sorted(groups)]
        picked: list[Path] = []
        while len(picked) < n // 2 and any(queues):
            picked += [q.pop(0) for q in queues if q][: n // 2 - len(picked)]
        chosen += [(p, int(label == "FAKE")) for p in picked]
    return chosen


def variants() -> dict:
    from avdetect.scoring.modes import FAST, FULL, ScoringMode

    return {"full": FULL, "fast": FAST, "fast_every_frame": replace(FAST, name="fast_every_frame", skip_nonref=False),
            "fast_32_samples": replace(FAST, name="fast_32_samples", n_frames=None),
            "crops_only": ScoringMode("crops_only", stacker_crops_only=True)}


def score_all(detectors: dict, videos: list[tuple[Path, int]]) -> list[dict]:
    rows = []
    for path, label in videos:
        row = {"path": str(path.relative_to(SHARED)), "label": label}
        for mode, detector in detectors.items():
            start = time.perf_counter()
            try:
                score = detector.score(path)
                row |= {f"p_{mode}": score.p_fake, f"verdict_{mode}": score.verdict, f"tracks_{mode}": score.n_tracks}
            except Exception as err:  # a benchmark row, not a crash: say what failed
                row |= {f"p_{mode}": float("nan"), f"verdict_{mode}": f"error: {type(err).__name__}",
                        f"tracks_{mode}": 0}
            row[f"s_{mode}"] = time.perf_counter() - start
        rows.append(row)
        print(row["path"], *(f"{m} {row[f'p_{m}']:.3f}" for m in detectors), file=sys.stderr)
    return rows


def summary(rows: list[dict], modes: list[str]) -> None:
    from sklearn.metrics import roc_auc_score

    ok = [r for r in rows if all(np.isfinite(r[f"p_{m}"]) for m in modes)]
    y = np.array([r["label"] for r in ok])
    full = np.array([r["p_full"] for r in ok])
    print(f"{len(ok)} of {len(rows)} videos scored in every mode ({int(y.sum())} fake, {int(len(y) - y.sum())} real)")
    print("| mode | AUC | mean abs(p - p_full) | largest | verdicts changed | fewer face tracks | median s per video |")
    print("|---|---|---|---|---|---|---|")
    for mode in modes:
        p = np.array([r[f"p_{mode}"] for r in ok])
        diff = np.abs(p - full)
        changed = sum(r["verdict_full"] != r[f"verdict_{mode}"] for r in ok)
        fewer = sum(r[f"tracks_{mode}"] < r["tracks_full"] for r in ok)
        seconds = statistics.median(r[f"s_{mode}"] for r in ok)
        print(f"| {mode} | {roc_auc_score(y, p):.3f} | {diff.mean():.4f} | {diff.max():.3f} | {changed} of {len(ok)} "
              f"| {fewer} | {seconds:.2f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--out", type=Path, help="also write the per-video rows here (CSV)")
    parser.add_argument("--modes", default="full,fast", help="comma-separated, full first: full, fast, "
                        "fast_every_frame, fast_32_samples, crops_only")
    args = parser.parse_args()
    if not (SHARED / "MANIFEST.csv").is_file():
        print("skipped: shared sample data not found")
        return 0
    from avdetect.scoring.pipeline import Detector

    modes = args.modes.split(",")
    full = Detector.load(args.model)
    detectors = {m: full if m == "full" else Detector(full.bundle, mode=variants()[m]) for m in modes}
    rows = score_all(detectors, pick_videos(args.n))
    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    summary(rows, modes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
