"""`avdetect` command line: parses arguments, runs one sub-command, turns typed errors into exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Sub-command name -> module in avdetect.commands that registers it. Imported lazily so that
# `avdetect --help` does not pay for torch.
COMMANDS = {
    "inspect": "inspect",
    "prepare": "prepare",
    "folds": "folds",
    "extract": "extract",
    "pseudofakes": "pseudofakes",
    "score": "score",
    "variants": "variants",
    "sync-features": "sync_features",
    "fit-stacker": "fit_stacker",
    "evaluate": "evaluate",
    "train": "train",
    "serve": "serve",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="avdetect", description="Audio-visual deepfake detection.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS.values():
        importlib.import_module(f"avdetect.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
