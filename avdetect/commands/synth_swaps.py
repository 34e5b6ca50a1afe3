"""`avdetect synth-swaps MANIFEST -o DIR [--donors people|gan] [--seed S] [--max-seconds 6] [--limit N]`.

Face swaps of the manifest's real videos (`avdetect.corpus.synth_faces.recipe`): each real talker's first
seconds with another real talker's face in every frame (``--donors people``: FAKE, voice REAL, generator
``classical-swap``, under DIR/video/swaps), or with a face of no one drawn by a GAN, the talker's own lips
and jaw kept (``--donors gan``: generator ``gan-face-swap``, under DIR/video/gan-swaps; needs
`avdetect.corpus.synth_faces.gan`'s random-face and openvino), and the same seconds of the talker unchanged
through the same encoder (REAL, under DIR/video/reals), all H.264/AAC mp4 (the recipe's video stacker learns
from rows under a video/ folder), listed in DIR/manifest.csv; targets that gave no swap are in
DIR/failed.csv. Rerunning the same command keeps the files already made. Training data: merge the manifest
into the sources before `avdetect extract` (`SWAPS=1` / `GAN_SWAPS=1 data/shipped/train.sh`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avdetect.errors import AvdetectError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `synth-swaps` parser."""
    p = subparsers.add_parser("synth-swaps", help="make classical face swaps among a manifest's real videos",
                              description=__doc__.split("\n", 2)[2].strip())
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the videos and manifest.csv")
    p.add_argument("--donors", choices=("people", "gan"), default="people",
                   help="people: classical swaps among the real talkers; gan: a GAN face of no one on each talker")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=6.0, help="seconds of each target to swap")
    p.add_argument("--limit", type=int, default=0, help="make only the first N swaps (0: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Makes the swaps and writes the manifest; 2 on a bad argument or manifest."""
    from avdetect.corpus.manifest import read_manifest, write_manifest
    from avdetect.corpus.synth_faces.recipe import make_swaps, plan_gan_swaps, plan_swaps, write_failures

    try:
        if args.max_seconds <= 0:
            raise ValueError("--max-seconds must be positive")
        sources = read_manifest(args.manifest)
        jobs = plan_gan_swaps(sources) if args.donors == "gan" else plan_swaps(sources, seed=args.seed)
        jobs = jobs[: args.limit] if args.limit else jobs
        if not jobs:
            raise ValueError(f"{args.manifest}: no real video to swap a GAN face into" if args.donors == "gan" else
                             f"{args.manifest}: no pair of real videos to swap faces between (donors need an actor)")
        args.output.mkdir(parents=True, exist_ok=True)
        rows, failed = make_swaps(jobs, args.output, seed=args.seed, max_seconds=args.max_seconds, progress=_report)
        write_manifest(rows, args.output / "manifest.csv")
        write_failures(failed, args.output / "failed.csv")
    except (AvdetectError, ValueError, OSError) as err:
        print(f"avdetect synth-swaps: {err}", file=sys.stderr)
        return 2
    print(f"{len(rows) // 2} swaps and their real controls from {len(jobs)} targets -> {args.output / 'manifest.csv'}"
          + (f"; {len(failed)} failed, see {args.output / 'failed.csv'}" if failed else ""))
    return 0


def _report(done: int, total: int) -> None:
    if done % 10 == 0 or done == total:
        print(f"synth-swaps: {done}/{total}", file=sys.stderr, flush=True)
