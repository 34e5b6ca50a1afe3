"""`avdetect video-features MANIFEST --cache CACHE -o runs/features [--extractors a,b]`: feature blocks.

Measures every cached video of the manifest with the `avdetect.features` extractors (pitch, face motion,
...), one CSV per extractor; `fit-stacker --oof runs` reads ``runs/features/*.csv`` as further columns.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("video-features", help="per-video feature blocks of every cached video of a manifest")
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("--cache", type=Path, required=True, help="cache folder made by `avdetect extract`")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for <extractor>.csv (runs/features)")
    p.add_argument("--extractors", help="comma-separated names (default: every block of "
                   "avdetect/features/registry.py: face_motion, face_spectrum, voice_pitch, voice_spectrum, ...)")
    p.add_argument("--models", type=Path, help="folder holding the weights of blocks that have some, e.g. "
                   "sync/sync.json for sync_learnt (default: the package's model)")
    p.add_argument("--folds", type=Path, help="out-of-fold blocks: the videos of fold k read their weights from "
                   "MODELS/fold<k> (e.g. `train-sync --folds F --fold k -o MODELS/fold<k>/sync`)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.corpus.folds import fold_map, read_folds
    from avdetect.corpus.manifest import read_manifest
    from avdetect.features.registry import VIDEO_EXTRACTORS
    from avdetect.training.video_features import HINTS, write_video_features

    rows = read_manifest(args.manifest)
    fold_of = fold_map(read_folds(args.folds)) if args.folds else None
    names = [n.strip() for n in (args.extractors or ",".join(VIDEO_EXTRACTORS)).split(",") if n.strip()]
    done = write_video_features(rows, args.cache, names, args.output, models=args.models, fold_of=fold_of)
    for name, n in done.written.items():
        print(f"{args.output / (name + '.csv')}: {n} of {len(rows)} videos")
    for reason, paths in done.left_out.items():
        print(f"left out, {reason}: {len(paths)} (e.g. {paths[0]}){HINTS.get(reason, '')}")
    return 0
