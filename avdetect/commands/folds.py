"""`avdetect folds manifest.csv -k 5 -o folds.csv [--hold-out generator|family]`: leak-proof folds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avdetect.corpus.folds import HOLD_OUT, assign_folds, fold_holdouts, fold_summary, merged_holdouts, write_folds
from avdetect.corpus.manifest import read_manifest
from avdetect.errors import AvdetectError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `folds` parser."""
    parser = subparsers.add_parser(
        "folds",
        help="assign group- and actor-aware folds to a manifest",
        description="Deal a manifest's rows to K folds, stratified by label, so that a source "
        "video, its fakes and its actor never straddle two folds. Writes path,group,fold. With "
        "--hold-out, every fake of one generator (or family) lands in one fold too, so out-of-fold "
        "predictions measure transfer to generators the model never saw.",
    )
    parser.add_argument("manifest", type=Path, help="manifest CSV from `avdetect prepare`")
    parser.add_argument("-k", "--n-splits", type=int, default=5, help="number of folds (default 5)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folds CSV to write")
    parser.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
    parser.add_argument("--hold-out", choices=HOLD_OUT, default=None,
                        help="keep each generator (or family) of the manifest's fakes whole in one fold")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Writes the folds file and prints per-fold counts; 2 on a manifest error."""
    if args.n_splits < 2:
        print("avdetect folds: -k must be at least 2", file=sys.stderr)
        return 2
    try:
        rows = read_manifest(args.manifest)
        folds = assign_folds(rows, n_splits=args.n_splits, seed=args.seed, hold_out=args.hold_out)
        write_folds(rows, folds, args.output, hold_out=args.hold_out)
    except AvdetectError as err:
        print(f"avdetect folds: {err}", file=sys.stderr)
        return 2
    print(f"{args.output}: {len(rows)} rows in {args.n_splits} folds")
    print("fold   real   fake  groups" + (f"  held out ({args.hold_out})" if args.hold_out else ""))
    held = fold_holdouts(rows, folds, args.hold_out) if args.hold_out else None
    for fold, n_real, n_fake, n_groups in fold_summary(rows, folds, args.hold_out):
        names = f"  {', '.join(held[fold])}" if held else ""
        print(f"{fold:>4} {n_real:>6} {n_fake:>6} {n_groups:>7}{names}")
    if args.hold_out:
        for names in merged_holdouts(rows, args.hold_out):
            print(f"held out together (they share sources, speakers or actors): {' + '.join(names)}")
    return 0
