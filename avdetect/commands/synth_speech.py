"""`avdetect synth-speech MANIFEST -o DIR [--engines a,b] [--per-source N] [--real-copies F] [--seed S]`.

Makes synthetic speech from the manifest's real speech files (`avdetect.corpus.synth.recipe`): fakes
labelled with their generator and family, and codec-passed copies of some reals, as 16 kHz mono FLAC
under DIR, listed in DIR/manifest.csv (standard columns plus generator, family, codec, settings). DIR
also gets config.json, the resolved settings. Rerunning the same command skips files that exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

from avdetect.errors import AvdetectError

REPORT_EVERY = 50  # jobs between progress lines


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `synth-speech` parser."""
    from avdetect.corpus.synth.recipe import DEFAULT_ENGINES, SynthConfig

    p = subparsers.add_parser("synth-speech", help="make labelled synthetic speech from a manifest's real speech",
                              description=__doc__.split("\n", 2)[2].strip())
    p.add_argument("manifest", type=Path, metavar="MANIFEST")
    p.add_argument("-o", "--output", type=Path, required=True, help="folder for the files and manifest.csv")
    p.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help="comma-separated engine names")
    p.add_argument("--per-source", type=int, default=SynthConfig.per_source,
                   help="fakes per real speech file, each from a different engine")
    p.add_argument("--real-copies", type=float, default=SynthConfig.real_codec_fraction, metavar="F",
                   help="share of the real files also copied through a codec, as REAL rows (default "
                   f"{SynthConfig.real_codec_fraction}; 0: fakes only, e.g. one more engine for a corpus that "
                   "has its real copies already); the fakes' draws do not depend on it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="use only the first N real speech files (0: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Makes the corpus and writes its manifest; 2 on a bad argument or manifest."""
    from avdetect.corpus.manifest import read_manifest
    from avdetect.corpus.synth.outputs import write_synth_manifest
    from avdetect.corpus.synth.recipe import SynthConfig, speech_sources, synthesize

    engines = tuple(name.strip() for name in args.engines.split(",") if name.strip())
    config = SynthConfig(engines=engines, per_source=args.per_source, real_codec_fraction=args.real_copies,
                         seed=args.seed)
    try:
        if args.per_source < 1:
            raise ValueError("--per-source must be at least 1")
        if not 0 <= args.real_copies <= 1:
            raise ValueError(f"--real-copies must lie in [0, 1], got {args.real_copies}")
        sources = speech_sources(read_manifest(args.manifest))
        sources = sources[: args.limit] if args.limit else sources
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
        rows = synthesize(sources, args.output, config, progress=_report)
        write_synth_manifest(rows, args.output / "manifest.csv")
    except (AvdetectError, ValueError, OSError) as err:
        print(f"avdetect synth-speech: {err}", file=sys.stderr)
        return 2
    counts = Counter(item.generator or "real" for item in rows)
    print(f"{len(rows)} files from {len(sources)} real speech files -> {args.output / 'manifest.csv'}: "
          + ", ".join(f"{name} {n}" for name, n in sorted(counts.items())))
    return 0


def _report(done: int, total: int, item) -> None:
    if done % REPORT_EVERY == 0 or done == total:
        print(f"synth-speech: {done}/{total}", file=sys.stderr, flush=True)
