"""`avdetect` itself: the one error edge that turns typed errors into one line and an exit status."""

from __future__ import annotations

import argparse

import pytest

from avdetect import cli
from avdetect.errors import ManifestError


def _command(raises: BaseException):
    def register(subparsers: argparse._SubParsersAction) -> None:
        def run(args: argparse.Namespace) -> int:
            raise raises

        subparsers.add_parser("boom").set_defaults(func=run)

    return register


@pytest.mark.parametrize("error, code, start", [
    (ManifestError("m.csv: no column label"), cli.EXIT_ERROR, "avdetect boom: m.csv: no column label"),
    (FileNotFoundError(2, "No such file or directory"), cli.EXIT_ERROR, "avdetect boom: [Errno 2]"),
    (KeyboardInterrupt(), cli.EXIT_INTERRUPTED, "avdetect boom: interrupted"),
    (ZeroDivisionError("division by zero"), cli.EXIT_BUG, "avdetect boom: internal error: ZeroDivisionError"),
])
def test_every_error_becomes_one_line_and_an_exit_status(monkeypatch, capsys, error, code, start) -> None:
    real_build = cli.build_parser

    def build_parser() -> argparse.ArgumentParser:
        parser = real_build()
        subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        _command(error)(subparsers)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_parser)
    assert cli.main(["boom"]) == code
    err = capsys.readouterr().err
    assert err.startswith(start) and len(err.strip().splitlines()) == 1 and "Traceback" not in err
