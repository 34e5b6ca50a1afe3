"""`avdetect pseudofakes`: draw preview grids of face and voice pseudo-fakes made from the shared data."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from avdetect.errors import InputError

DATA_ENV = "AVDETECT_SHARED_DATA"  # overrides the default location of the shared sample data
DEFAULT_DATA = Path("..") / "shared" / "data"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pseudofakes", help="preview pseudo-fakes made from real faces and voices")
    parser.add_argument("--preview", type=Path, metavar="OUT.png", help="write a face grid: real / self-blend / mask / cross-blend")
    parser.add_argument("--voice-preview", type=Path, metavar="OUT.png", help="write log-mel spectrograms of voice fakes")
    parser.add_argument("--n", type=int, default=6, help="faces in the grid (default 6)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--tile", type=int, default=128, help="pixels per face tile (default 128)")
    parser.add_argument("--data", type=Path, default=None, help=f"shared data folder (default ${DATA_ENV} or {DEFAULT_DATA})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avdetect.pseudofakes.preview import face_preview, voice_preview  # torch only when run

    if args.preview is None and args.voice_preview is None:
        raise ValueError("nothing to do: give --preview OUT.png and/or --voice-preview OUT.png")
    data = args.data or Path(os.environ.get(DATA_ENV, DEFAULT_DATA))
    if not data.is_dir():
        raise InputError(f"shared data folder {data} not found: pass --data or set {DATA_ENV}")
    if args.preview is not None:  # missing sample data, too few faces: OSError / ValueError, one line
        print(face_preview(data, args.preview, n=args.n, seed=args.seed, tile=args.tile))
    if args.voice_preview is not None:
        print(voice_preview(data, args.voice_preview, seed=args.seed))
    return 0
