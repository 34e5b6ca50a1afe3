"""Does a stacker's decision band keep its word on rows it was not chosen on? In sample against cross-fitted.

    .venv/bin/python benchmarks/band_check.py --model avdetect/model [--stacker stacker|voice]

MODEL/STACKER/oof.csv holds each row's out-of-fold p_fake and fold, MODEL/STACKER/config.json the band that
`fit-stacker` chose on all of those rows (held to its ``max_error``, both classes weighing the same). Here the
band is chosen again on every fold but one, the same way, and decides the rows of the fold left out (the
recipe's folds hold out whole generator families, so those rows come from generators the band never saw). For
both, the table gives the reals called fake / real / inconclusive, the fakes alike, and each decided verdict's
error with the classes weighed alike: the error the band promises, and the one it keeps on new rows.
`voice_by_length.py` does the same for the voice stacker's bands per length of speech.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def cross_fitted(labels: np.ndarray, p_fake: np.ndarray, folds: np.ndarray, max_error: float) -> np.ndarray:
    """str (n,) each row's verdict by the band chosen on the other folds' rows (classes weighed alike)."""
    from stacking.decision import fit_band
    from stacking.metrics import equal_class_weights

    verdicts = np.empty(len(p_fake), dtype=object)
    for k in np.unique(folds):
        train = folds != k
        band = fit_band(labels[train], p_fake[train], max_error=max_error,
                        sample_weight=equal_class_weights(labels[train]))
        verdicts[~train] = band.verdicts(p_fake[~train])
    return verdicts.astype(str)


def main(argv: Sequence[str] | None = None) -> int:
    from stacking.bundle import load_bundle
    from voice_by_length import verdict_shares

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder (e.g. avdetect/model)")
    parser.add_argument("--stacker", choices=("stacker", "voice"), default="stacker",
                        help="the video stacker (default) or the voice stacker")
    args = parser.parse_args(argv)
    folder = args.model / args.stacker
    band = load_bundle(folder).band
    with (folder / "oof.csv").open(newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["p_fake"] not in ("", "nan")]
    labels, folds = np.array([int(r["label"]) for r in rows]), np.array([int(r["fold"]) for r in rows])
    p_fake = np.array([float(r["p_fake"]) for r in rows])
    print(f"{folder}: {len(rows)} rows ({int(labels.sum())} fake), {len(np.unique(folds))} folds; band real below "
          f"{band.low:.3f}, fake from {band.high:.3f}, each verdict held to {band.max_error:.0%}")
    print(f"{'band':<14} {'reals: fake / real / undecided':>31} {'fakes: fake / real / undecided':>31} "
          f"{'errors: fake / real calls':>26}")
    for name, verdicts in (("in sample", band.verdicts(p_fake)),
                           ("cross-fitted", cross_fitted(labels, p_fake, folds, band.max_error))):
        s = verdict_shares(labels, verdicts)
        print(f"{name:<14} {s['real fake']:>13.0%} / {s['real real']:.0%} / {s['real inconclusive']:.0%}"
              f" {s['fake fake']:>17.0%} / {s['fake real']:.0%} / {s['fake inconclusive']:.0%}"
              f" {s['fake error']:>17.0%} / {s['real error']:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
