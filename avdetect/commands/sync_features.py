"""`avdetect sync-features MANIFEST --cache CACHE -o runs/sync/features.csv`: lip-sync features per video.

The hand-made sync signal needs no training, so this only measures every cached video (and variant)
of the manifest; the stacker reads the file next to the branches' out-of-fold predictions.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("sync-features", help="lip-sync features of every cached video of a manifest")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--cache", type=Path, required=True, help="cache folder made by `avdetect extract`")
    p.add_argument("-o", "--output", type=Path, required=True, help="CSV to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.corpus.cache import load_perception
    from avdetect.corpus.cache_index import cached_paths
    from avdetect.corpus.manifest import read_manifest
    from avdetect.perception.lipsync import SYNC_COLUMNS, clip_sync, sync_vector

    rows = read_manifest(args.manifest)
    keys = cached_paths(args.cache)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with args.output.open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(["path", *SYNC_COLUMNS])
        for row in rows:
            key = keys.get(str(row.path))
            if key is None:
                continue
            seen = load_perception(args.cache / f"{key}.npz")
            features = clip_sync(seen)
            if features is not None:
                out.writerow([str(row.path), *(f"{v:.6g}" for v in sync_vector(features))])
                written += 1
    print(f"sync features of {written} of {len(rows)} videos -> {args.output}")
    return 0
