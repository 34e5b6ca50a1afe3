"""What a bundle's video stacker makes of inputs without a face (the question the voice stacker answers).

Applies MODEL's stacker, not its voice stacker, to the rows without a face of a training table fitted on
every row of the folds (`avdetect fit-stacker --oof RUNS --folds WORK_DIR/folds.csv --manifest M -o T`:
T/stacker/table.npz holds the branches' out-of-fold scores of the speech files too) and writes their
p_fake and p_audio in the out-of-fold format `generalization.py` reads. The video stacker never trained on
those rows (it fits videos with a face), so this is how it would score voices it never saw.

    .venv/bin/python benchmarks/faceless_inputs.py --model MODEL --table T/stacker/table.npz -o /tmp/faceless.csv
    .venv/bin/python benchmarks/generalization.py --modality audio --oof /tmp/faceless.csv --manifest M \\
        --hold-out family --column p_fake

Prints the real and fake rows' p_fake quartiles and the share of each class at 0.5 or more.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def faceless_scores(model: Path, table: Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Paths, folds, labels, p_fake and p_audio of the table's rows without a face, from MODEL's stacker."""
    from avdetect.bundle import load_bundle
    from avdetect.training.stacker_table import load_table
    from stacking.bundle import load_bundle as load_stacker

    fusion = load_stacker(load_bundle(model).stacker)
    data = load_table(table)
    names = data.table.names
    missing = [n for n in fusion.feature_names if n not in names]
    if missing:
        raise SystemExit(f"{table} lacks the stacker's columns {missing[:5]}")
    rows = np.flatnonzero(data.table.column("has_face") == 0)
    X = data.table.X[rows][:, [names.index(n) for n in fusion.feature_names]]
    verdicts = fusion.stacker.predict_verdicts(X)
    return data.table.videos[rows].tolist(), data.folds[rows], data.y[rows], verdicts.p_fake, verdicts.p_audio


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a model bundle folder")
    parser.add_argument("--table", type=Path, required=True, help="stacker/table.npz of a fit on every row")
    parser.add_argument("-o", "--output", type=Path, required=True, help="CSV: path, fold, label, p_fake, p_audio")
    args = parser.parse_args(argv)
    paths, folds, y, p_fake, p_audio = faceless_scores(args.model, args.table)
    with args.output.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "fold", "label", "p_fake", "p_audio"])
        writer.writerows(zip(paths, folds.tolist(), y.tolist(), p_fake.tolist(), p_audio.tolist()))
    print(f"{args.model}: its stacker on the {len(y)} rows without a face of {args.table}")
    print(f"{'class':<6} {'n':>5} {'q25':>6} {'median':>6} {'q75':>6} {'>=0.5':>6}")
    for name, label in (("real", 0), ("fake", 1)):
        p = p_fake[y == label]
        q = np.quantile(p, [0.25, 0.5, 0.75]) if len(p) else [np.nan] * 3
        share = np.mean(p >= 0.5) if len(p) else np.nan
        print(f"{name:<6} {len(p):>5} {q[0]:>6.3f} {q[1]:>6.3f} {q[2]:>6.3f} {share:>6.3f}")


if __name__ == "__main__":
    main()
