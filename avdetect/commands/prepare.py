"""`avdetect prepare DATASET ROOT -o manifest.csv`: one dataset's layout -> the common manifest."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avdetect.corpus.datasets import ADAPTERS, prepare
from avdetect.corpus.manifest import label_counts, write_manifest


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `prepare` parser."""
    parser = subparsers.add_parser(
        "prepare",
        help="write a manifest CSV for a dataset",
        description="List a dataset's files with labels, groups and actors in avdetect's manifest "
        "format. See data/<dataset>/README.md for the layouts each dataset needs.",
    )
    parser.add_argument("dataset", choices=list(ADAPTERS), help="dataset layout of ROOT")
    parser.add_argument("root", type=Path, metavar="ROOT", help="dataset folder")
    parser.add_argument("-o", "--output", type=Path, required=True, help="manifest CSV to write")
    parser.add_argument("--csv", type=Path, help="folder only: a CSV with at least path,label "
                        "(relative paths are read against ROOT); rows labelled UNKNOWN are skipped")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Writes the manifest and prints a one-line summary; 2 on a dataset or manifest error."""
    if args.csv is not None and args.dataset != "folder":
        print("avdetect prepare: --csv applies to the folder dataset only", file=sys.stderr)
        return 2
    options = {"csv": args.csv} if args.csv is not None else {}
    rows = prepare(args.dataset, args.root, **options)
    write_manifest(rows, args.output)
    n_real, n_fake = label_counts(rows)
    n_groups = len({row.group for row in rows})
    print(f"{args.output}: {len(rows)} rows ({n_real} REAL, {n_fake} FAKE), {n_groups} groups")
    return 0
