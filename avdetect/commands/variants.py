"""`avdetect variants MANIFEST --cache CACHE -o OUT [--kinds shift,dub,revoice,blend] [--seed 0]`.

Adds video-level pseudo-fakes of the manifest's real, cached videos to the cache and writes OUT: the
manifest's rows plus one row per variant (same group as its source, so folds keep them together).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("variants", help="add video-level pseudo-fakes of real cached videos")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--cache", type=Path, required=True, help="cache folder made by `avdetect extract`")
    p.add_argument("-o", "--output", type=Path, required=True, help="manifest to write (sources + variants)")
    p.add_argument("--kinds", default="shift,dub,revoice,blend", help="comma-separated variant kinds")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.corpus.manifest import read_manifest, write_manifest
    from avdetect.corpus.variant_cache import add_variants

    rows = read_manifest(args.manifest)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    added = add_variants(rows, args.cache, kinds=kinds, seed=args.seed)
    write_manifest([*rows, *added], args.output)
    counts = {}
    for row in added:
        counts[row.dataset.split("+")[-1]] = counts.get(row.dataset.split("+")[-1], 0) + 1
    print(f"{len(added)} variants of {len(rows)} rows ({counts}) -> {args.output}")
    return 0
