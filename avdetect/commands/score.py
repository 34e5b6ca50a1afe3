"""`avdetect score INPUT... -o OUT`: P(fake) of every input, one row each, resumable, with an HTML report.

Exit status: 0 when every input was scored, 1 when any failed (each failure is also a row and a line on
stderr), 2 on a usage error or when the model cannot be loaded, 130 when interrupted. Rerunning the same
command resumes: inputs already in OUT are skipped, so a crash or ``kill -9`` loses and repeats nothing.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from avdetect.scoring.batch import LocalEngine, ScorerSpec, list_inputs, precheck
from avdetect.scoring.modes import FAST, FULL, ScoringMode
from avdetect.scoring.report import Report
from avdetect.scoring.scores import VideoScore
from avdetect.scoring.writers import FORMATS, RowWriter, infer_format, open_writer
from avdetect.workers import DEFAULT_TIMEOUT_S

log = logging.getLogger(__name__)

DESCRIPTION = """Score video and audio files: one row per input in OUT (csv, jsonl, parquet, or a Kaggle
submission `filename,label`). INPUTs are files (always scored, whatever their extension), folders (searched
recursively for files with a video or audio extension; other files are left out with a warning) or @LIST
files of paths, one a line. Every input gets a row, failed ones too: status says why (input_error,
decode_error, timeout, worker_crashed, internal_error, ...). In Kaggle form a failed input gets label 0.5
only because Kaggle needs a number; it still counts as failed in stderr and the exit status. Rerun the same
command to resume after a crash: inputs already in OUT are skipped."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `score` parser."""
    p = subparsers.add_parser("score", help="score videos and audio files for deepfakes", description=DESCRIPTION)
    p.add_argument("inputs", nargs="*", metavar="INPUT", help="file, folder, or @LIST (a file of paths)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output file (resumed if it exists)")
    p.add_argument("--format", choices=FORMATS, help="default: from OUT's suffix (.csv, .jsonl, .parquet)")
    p.add_argument("--list", action="append", default=[], metavar="FILE", help="file of input paths, one a line")
    p.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="inputs scored at once, one process each (default 1)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"per-input time limit in seconds, 0 for none (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--report", type=Path, metavar="DIR", help="also write an HTML report (DIR/index.html)")
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local processes or Ray Data")
    p.add_argument("--address", help="Ray cluster address, e.g. ray://head:10001 (default: a local Ray)")
    p.add_argument("--device", default="cpu", help="torch device of each worker, e.g. cuda:0 (default cpu)")
    p.add_argument("--fast", action="store_true",
                   help=f"fast mode: {FAST.describe()}; probabilities differ from the full mode's "
                        "(measured in README, Measurements: Scoring)")
    p.add_argument("--retry-failed", action="store_true", help="score again the inputs whose rows in OUT failed")
    p.add_argument("--scorer", default=ScorerSpec.factory, help=argparse.SUPPRESS)  # module:function, for tests
    p.set_defaults(func=run)


@dataclass
class Run:
    """What one `avdetect score` run is doing, and what it has seen."""

    paths: list[str]  # every input, in order
    todo: list[str]  # inputs not yet in the output
    writer: RowWriter
    report: Report | None
    results: dict[str, str] = field(default_factory=dict)  # path -> status, of the inputs scored by this run


def run(args: argparse.Namespace) -> int:
    """Scores, with a progress bar on stderr; prints a one-line summary on stdout."""
    start = time.perf_counter()
    state = _prepare(args)
    try:
        _score(args, state)  # a typed error (the model did not load, Ray failed) ends it in `cli.main`
    finally:
        _close(state)  # parquet is written here, and the report index, also when the run stopped early
    return _summary(args, state, time.perf_counter() - start)


def _prepare(args: argparse.Namespace) -> Run:
    """Checks the arguments, lists the inputs and reads back what OUT already holds."""
    if not args.inputs and not args.list:
        raise ValueError("no inputs: give files, folders, @LIST or --list FILE")
    if args.workers < 1 or args.timeout < 0:
        raise ValueError("--workers must be >= 1 and --timeout >= 0")
    if args.address and args.engine != "ray":
        raise ValueError("--address needs --engine ray")
    fmt = infer_format(args.output, args.format)
    writer = open_writer(args.output, fmt)  # refuse a file that is not ours before walking any folder
    paths = list_inputs(args.inputs, list_files=args.list)
    if fmt == "kaggle":
        _check_unique_names(paths, writer)
    if args.retry_failed and (dropped := writer.drop_failed()):
        print(f"avdetect score: {len(dropped)} failed row(s) removed from {args.output}, to be scored again",
              file=sys.stderr)
    done = writer.done
    todo = [path for path in paths if writer.key(path) not in done]
    report = Report(args.report) if args.report else None
    return Run(paths, todo, writer, report)


def _check_unique_names(paths: list[str], writer: RowWriter) -> None:
    names = Counter(writer.key(path) for path in paths)
    clashes = sorted(path for path in paths if names[writer.key(path)] > 1)
    if clashes:
        raise ValueError(f"a Kaggle submission names inputs by file name, and these share one: "
                         f"{', '.join(clashes[:4])}{' ...' if len(clashes) > 4 else ''}")


def _score(args: argparse.Namespace, state: Run) -> None:
    """Scores `state.todo`: obviously bad paths at once, the rest on the chosen engine."""
    skipped = len(state.paths) - len(state.todo)
    if args.fast:
        print(f"avdetect score: fast mode ({FAST.describe()}); its probabilities are those of a model measured at "
              "full settings, applied to other measurements (README: Measurements)", file=sys.stderr)
    if skipped:
        print(f"avdetect score: {skipped} input(s) already in {args.output}, skipped", file=sys.stderr)
    with _progress_bar() as bar:
        task = bar.add_task("score", total=len(state.todo))
        record = _recorder(state, bar, task)
        rest = []
        for path in state.todo:
            bad = precheck(path)
            if bad is None:
                rest.append(path)
            else:
                record(bad)
        if rest:
            _run_engine(args, rest, record)


def _run_engine(args: argparse.Namespace, paths: list[str], record) -> None:
    spec = ScorerSpec(args.scorer, args.model, args.device, mode=_mode(args).name)
    if args.engine == "ray":
        from avdetect.scoring.ray import run_ray

        run_ray(spec, paths, record, workers=args.workers, timeout_s=args.timeout, address=args.address)
        return
    with LocalEngine(spec, workers=args.workers, timeout_s=args.timeout) as engine:
        engine.run(paths, record)


def _mode(args: argparse.Namespace) -> ScoringMode:
    return FAST if args.fast else FULL


def _recorder(state: Run, bar: Progress, task: TaskID):
    """The callback that writes each finished input: report page first, so every row has its page."""

    def record(score: VideoScore) -> None:
        if state.report is not None:
            state.report.add(score)
        state.writer.write(score)
        state.results[score.path] = score.status
        bar.advance(task)
        if not score.ok:
            reason = score.error if score.path in score.error else f"{score.path}: {score.error}"
            bar.console.print(f"avdetect score: {score.status}: {reason}", markup=False, highlight=False,
                              soft_wrap=True)

    return record


def _close(state: Run) -> None:
    state.writer.close()
    if state.report is not None:
        state.report.close(state.writer.rows if state.writer.key_field == "path" else [])


def _summary(args: argparse.Namespace, state: Run, elapsed: float) -> int:
    """Prints what happened; 1 when any input of this command (scored now or before) failed."""
    done = state.writer.done  # Kaggle rows keep no status: only this run's failures are known there
    status = {path: state.results.get(path) or done.get(state.writer.key(path), "") for path in state.paths}
    failed = [path for path, s in status.items() if s not in ("ok", "")]
    counts = Counter(state.results.values())
    kinds = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()) if s != "ok")
    mode = f" in {_mode(args).name} mode" if args.fast else ""
    print(f"{args.output}: {len(state.paths)} inputs, {len(state.results)} scored now{mode} in {elapsed:.1f} s"
          f"{f' ({kinds})' if kinds else ''}; {len(failed)} failed in all"
          + (f"; report: {args.report / 'index.html'}" if args.report else ""))
    return 1 if failed else 0


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))

