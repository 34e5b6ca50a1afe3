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


def cross_fitted(labels: np.ndarray, p_fake: np.ndarray, folds: np.ndarray, max_error: float, *,
                 values: np.ndarray | None = None, edges: tuple[float, ...] = ()) -> np.ndarray:
    """str (n,) each row's verdict by the band chosen on the other folds' rows (classes weighed alike); with
    ``edges``, by the bands chosen per bin of ``values`` (`stacking.decision.fit_binned_band`) instead."""
    from stacking.decision import fit_band, fit_binned_band
    from stacking.metrics import equal_class_weights

    verdicts = np.empty(len(p_fake), dtype=object)
    for k in np.unique(folds):
        train, held = folds != k, folds == k
        if edges:
            bands = fit_binned_band(labels[train], p_fake[train], values[train], column="evidence", edges=edges,
                                    max_error=max_error)
            verdicts[held] = bands.verdicts(p_fake[held], values[held])
        else:
            band = fit_band(labels[train], p_fake[train], max_error=max_error,
                            sample_weight=equal_class_weights(labels[train]))
            verdicts[held] = band.verdicts(p_fake[held])
    return verdicts.astype(str)


def verdict_shares(labels: np.ndarray, verdicts: np.ndarray) -> dict[str, float]:
    """Share of reals called fake / real / inconclusive and of fakes alike ("real fake", ...), and each decided
    verdict's error with both classes weighing the same ("fake error": reals among the fake calls); NaN where
    there is nothing to share."""
    from stacking.metrics import equal_class_weights

    out: dict[str, float] = {}
    for label, name in ((0, "real"), (1, "fake")):
        mine = verdicts[labels == label]
        out.update({f"{name} {v}": float(np.mean(mine == v)) if len(mine) else float("nan")
                    for v in ("fake", "real", "inconclusive")})
    w = equal_class_weights(labels) if len(labels) else labels.astype(np.float64)
    for called, truly in (("fake", 0), ("real", 1)):
        hit = verdicts == called
        out[f"{called} error"] = float(np.average(labels[hit] == truly, weights=w[hit])) if hit.any() else float("nan")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    from stacking.bundle import load_bundle

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
