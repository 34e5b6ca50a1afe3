"""`avdetect video-features MANIFEST --cache CACHE -o runs/features [--extractors a,b]`: feature blocks.

Measures every cached video of the manifest with the `avdetect.features` extractors (pitch, face motion,
...), one CSV per extractor; `fit-stacker --oof runs` reads ``runs/features/*.csv`` as further columns.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    from avdetect.features.registry import VIDEO_EXTRACTORS

    p = subparsers.add_parser("video-features", help="per-video feature blocks of every cached video of a manifest")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--cache", type=Path, required=True, help="cache folder made by `avdetect extract`")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for <extractor>.csv (runs/features)")
    p.add_argument("--extractors", default=",".join(VIDEO_EXTRACTORS),
                   help=f"comma-separated names (default all: {', '.join(VIDEO_EXTRACTORS) or 'none'})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.corpus.manifest import read_manifest
    from avdetect.training.video_features import write_video_features

    rows = read_manifest(args.manifest)
    names = [n.strip() for n in args.extractors.split(",") if n.strip()]
    counts = write_video_features(rows, args.cache, names, args.output)
    for name, n in counts.items():
        print(f"{args.output / (name + '.csv')}: {n} of {len(rows)} videos")
    return 0
