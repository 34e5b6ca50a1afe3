"""How much speech a voice verdict needs: the voice stacker's out-of-fold calls by the length of the detected speech.

    .venv/bin/python benchmarks/voice_by_length.py --model out/fixed/model --work out/fixed [--threshold 0.5]

Joins MODEL/voice/oof.csv (each voice's out-of-fold p_fake) to the seconds of detected speech of the same
rows (`speech_s`, read from WORK_DIR/runs the way `fit-stacker --voice-folds` reads them, `voice_rows`) and
prints, per band of speech length, how many real voices are called fake and how many fakes are caught at the
threshold. A shorter stretch of speech gives the encoder less to go on.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

EDGES = (0.0, 2.0, 4.0, 6.0, np.inf)  # seconds of detected speech


def by_length(seconds: np.ndarray, labels: np.ndarray, p_fake: np.ndarray, *, threshold: float = 0.5,
              edges: Sequence[float] = EDGES) -> list[tuple[str, int, float, int, float]]:
    """(band, reals, their share at the threshold or above, fakes, theirs) per band of `seconds`; NaN shares
    where a band holds none of a class."""
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (seconds >= low) & (seconds < high)
        real, fake = inside & (labels == 0), inside & (labels == 1)
        share = [float(np.mean(p_fake[m] >= threshold)) if m.any() else float("nan") for m in (real, fake)]
        band = f"{low:g}-{high:g} s" if np.isfinite(high) else f"{low:g} s or more"
        rows.append((band, int(real.sum()), share[0], int(fake.sum()), share[1]))
    return rows


def speech_seconds(work: Path) -> dict[str, float]:
    """Path -> seconds of detected speech of every voice the voice stacker learns from."""
    from avdetect.training.stacker_data import load_training_data, voice_rows

    data = voice_rows(load_training_data(work / "runs", work / "folds.csv", work / "all.csv"))
    return dict(zip(data.table.videos.tolist(), data.table.column("speech_s").tolist()))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder with voice/oof.csv")
    parser.add_argument("--work", type=Path, required=True, help="the recipe's WORK_DIR it was fitted from")
    parser.add_argument("--threshold", type=float, default=0.5)
    args = parser.parse_args(argv)
    seconds = speech_seconds(args.work)
    with (args.model / "voice" / "oof.csv").open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["path"] in seconds]
    table = by_length(np.array([seconds[r["path"]] for r in rows]), np.array([int(r["label"]) for r in rows]),
                      np.array([float(r["p_fake"]) for r in rows]), threshold=args.threshold)
    print(f"{len(rows)} voices, out of fold; called fake at p_fake >= {args.threshold}")
    print(f"{'detected speech':<16} {'reals':>6} {'called fake':>11} {'fakes':>6} {'caught':>7}")
    for band, n_real, real_rate, n_fake, fake_rate in table:
        print(f"{band:<16} {n_real:>6} {real_rate:>11.0%} {n_fake:>6} {fake_rate:>7.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
