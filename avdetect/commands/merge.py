"""`avdetect merge A.csv B.csv ... -o OUT.csv`: one manifest from several (e.g. a dataset and its synth fakes).

Rows keep every column (labels, group, actor, generator, family); a path listed twice is refused, so two
manifests that overlap are noticed, not silently doubled.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("merge", help="concatenate manifests into one (paths must not repeat)")
    p.add_argument("manifests", type=Path, nargs="+", metavar="MANIFEST")
    p.add_argument("-o", "--output", type=Path, required=True, help="manifest to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.corpus.manifest import check_unique_paths, label_counts, read_manifest, write_manifest

    rows = [row for path in args.manifests for row in read_manifest(path)]
    check_unique_paths(rows, source=" + ".join(map(str, args.manifests)))
    write_manifest(rows, args.output)
    n_real, n_fake = label_counts(rows)
    print(f"{args.output}: {len(rows)} rows ({n_real} REAL, {n_fake} FAKE) from {len(args.manifests)} manifests")
    return 0
