"""Why held-out real videos are called fake: each fold's stacker explains its real videos' scores by block.

    .venv/bin/python benchmarks/real_alarms.py --model out/fixed/model [--threshold 0.5] [--fusion voice]

For each fold of the model's training table (`stacker/table.npz`), the stacker is fitted again on the other
folds with the model's own settings (report.json's "fit": seed, balance, booster, monotone rules), as
`fit-stacker`'s cross-validation does; each real video of the fold gets its calibrated p_fake and LightGBM's
contributions (`pred_contrib`: log-odds of the final booster, summed per block: the extractor of the
model's scoring spec that makes each column).
Printed: the mean contribution of every block for the reals called fake at the threshold and for the
others (a block that pushes the correctly called reals towards "real" and not the false alarms is the
evidence those videos lack), and the false alarms per dataset. `--fusion voice` explains the voice stacker
(`model/voice/`: every voice with a label of its own, videos' voices included) instead of the video stacker.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np


def column_blocks(model: Path) -> dict[str, str]:
    """Column -> the extractor of `model`'s scoring spec that makes it (`face_scores`: the face CNN's statistics,
    `voice_scores`, `sync`, `face_motion`, ...), as `benchmarks/block_importance.py` counts them."""
    from block_importance import spec_blocks

    return {column: name for name, columns in spec_blocks(model).items() for column in columns}


def explain_reals(model: Path, fusion: str = "stacker") -> list[tuple[str, float, dict[str, float]]]:
    """(dataset, p_fake, block -> contribution) of every real row of the `fusion` ("stacker" or "voice"),
    each from the fold that held it out."""
    from avdetect.training.stacker import FIT_SETTINGS, fit_stacker
    from avdetect.training.stacker_data import select_rows
    from avdetect.training.stacker_table import TABLE_FILE, load_table

    fit = json.loads((model / fusion / "report.json").read_text())["fit"]
    data = load_table(model / fusion / TABLE_FILE)  # the columns it was fitted on, dropped ones gone
    owner = column_blocks(model)
    blocks = [owner.get(n, "other") for n in data.table.names]
    datasets = data.groups.get("dataset", np.full(len(data.y), "?"))
    out = []
    for fold in np.unique(data.folds):
        held = data.folds == fold
        stacker = fit_stacker(select_rows(data, ~held), **{k: fit[k] for k in FIT_SETTINGS if k in fit})
        reals = held & (data.y == 0)
        X = data.table.X[reals]
        p = stacker.predict_proba(X)[:, 1]
        contrib = contributions(stacker, X)
        for dataset, p_fake, row in zip(datasets[reals], p, contrib):
            by_block: dict[str, float] = defaultdict(float)
            for block, value in zip(blocks, row):
                by_block[block] += float(value)
            out.append((str(dataset), float(p_fake), dict(by_block)))
    return out


def contributions(stacker, X: np.ndarray) -> np.ndarray:
    """float64 (n, F) each column's share of the raw score (log-odds) of rows ``X``: the trees' SHAP values, or,
    for a stacker without trees (``score_column``), the whole score on its one column."""
    if stacker.booster_ is not None:
        return stacker.booster_.predict(X, pred_contrib=True)[:, :-1]
    out = np.zeros(X.shape)
    out[:, stacker.feature_names_.index(stacker.score_column)] = stacker.predict_raw(X)
    return out


def report(rows: list[tuple[str, float, dict[str, float]]], threshold: float) -> None:
    alarms = [r for r in rows if r[1] >= threshold]
    print(f"{len(rows)} real rows, each scored by the stacker of the folds without it: {len(alarms)} "
          f"({len(alarms) / max(len(rows), 1):.0%}) at p_fake >= {threshold}")
    names = sorted({b for r in rows for b in r[2]})
    print(f"\nmean contribution (log-odds of P(fake)) per block\n{'':<26}" + "".join(f"{b:>14}" for b in names))
    for label, part in (("reals called fake", alarms), ("reals called real", [r for r in rows if r[1] < threshold])):
        if part:
            print(f"{label + f' ({len(part)})':<26}" + "".join(f"{np.mean([r[2].get(b, 0.0) for r in part]):>14.3f}"
                                                               for b in names))
    print("\nfalse alarms per dataset")
    by_dataset: dict[str, list[bool]] = defaultdict(list)
    for dataset, p_fake, _ in rows:
        by_dataset[dataset].append(p_fake >= threshold)
    for dataset, called in sorted(by_dataset.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"  {dataset[:48]:<50} {sum(called):>3} of {len(called)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True, help="a model folder with stacker/table.npz")
    parser.add_argument("--threshold", type=float, default=0.5, help="p_fake at which a real video is a false alarm")
    parser.add_argument("--fusion", choices=("stacker", "voice"), default="stacker",
                        help="the video stacker (default) or the voice stacker of inputs without a face")
    args = parser.parse_args(argv)
    report(explain_reals(args.model, args.fusion), args.threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
