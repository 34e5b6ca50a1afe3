"""`avdetect` command line: parses arguments, runs one sub-command, turns typed errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from avdetect.allocator import keep_large_buffers
from avdetect.errors import AvdetectError
from stacking.errors import StackingError

EXIT_ERROR, EXIT_BUG, EXIT_INTERRUPTED = 2, 70, 130

# Sub-command name -> module in avdetect.commands that registers it. Imported lazily so that
# `avdetect --help` does not pay for torch.
COMMANDS = {
    "inspect": "inspect",
    "prepare": "prepare",
    "merge": "merge",
    "folds": "folds",
    "extract": "extract",
    "pseudofakes": "pseudofakes",
    "score": "score",
    "variants": "variants",
    "sync-features": "sync_features",
    "video-features": "video_features",
    "fit-stacker": "fit_stacker",
    "evaluate": "evaluate",
    "train": "train",
    "train-sync": "train_sync",
    "train-voice-embed": "train_voice_embed",
    "serve": "serve",
    "synth-speech": "synth_speech",
    "synth-swaps": "synth_swaps",
    "face-images": "face_images",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avdetect", description="Audio-visual deepfake detection.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS.values():
        importlib.import_module(f"avdetect.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs one sub-command; the one place where typed errors become a message and an exit status.

    Exit status: 0 done; 1 done, but some inputs failed (their rows say why); 2 usage or a typed error
    that stopped the command (unreadable manifest, bad model folder, ...: one line on stderr, no
    traceback); 70 a bug of ours (one line, the traceback with -v); 130 interrupted (rerun to resume).
    """
    args = build_parser().parse_args(argv)
    keep_large_buffers()  # this process's CNN passes (training, in-process scoring) reuse their memory
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    name = f"avdetect {args.command}"
    try:
        return int(args.func(args) or 0)
    except (AvdetectError, StackingError, OSError, ValueError) as err:  # typed, a file, a bad value
        print(f"{name}: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{name}: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as err:  # a bug: one line, not a traceback, unless asked for
        logging.getLogger(__name__).info("internal error", exc_info=True)
        print(f"{name}: internal error: {type(err).__name__}: {err} (rerun with -v for the traceback)",
              file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
