"""`avdetect extract MANIFEST -o CACHE [--workers N] [--frames 32] [--device cpu]`: fill a training cache.

Resumable: run it again after a crash or ``kill -9`` and only unfinished videos are redone. Exit
status 0 when every video is in the cache, 1 when some failed (see CACHE/failures.csv), 2 when the
manifest is unreadable or CACHE was made with other options.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

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

from avdetect.defaults import SPEECH_METHOD, SPEECH_METHODS
from avdetect.workers import DEFAULT_TIMEOUT_S

if TYPE_CHECKING:  # avdetect.corpus.extract imports torch; `avdetect --help` should not
    from avdetect.corpus.extract import VideoResult


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `extract` parser."""
    parser = subparsers.add_parser(
        "extract",
        help="run the perception layer over a manifest into a resumable cache",
        description="Store face crops, boxes, landmarks, log-mel windows, speech segments and int16 audio "
        "of every video of MANIFEST as CACHE/<key>.npz, with CACHE/index.csv and CACHE/failures.csv. "
        "Rerun to resume.",
    )
    parser.add_argument("manifest", type=Path, metavar="MANIFEST", help="manifest CSV (avdetect prepare)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="CACHE", help="cache folder")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: one per CPU); 0 runs in this process")
    parser.add_argument("--frames", type=int, default=32, help="frames to sample evenly in time (default 32)")
    parser.add_argument("--speech", choices=SPEECH_METHODS, default=SPEECH_METHOD,
                        help=f"speech detector (default {SPEECH_METHOD}; energy is cheaper, silero ignores music "
                        "and noise)")
    parser.add_argument("--device", default="cpu", help="torch device for the face detector (default cpu)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                        help=f"per-video time limit in seconds, 0 for none (default {DEFAULT_TIMEOUT_S:g})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Extracts, showing a progress bar on stderr, then prints a one-line summary on stdout."""
    from avdetect.corpus.cache import FAILURES_NAME, open_cache
    from avdetect.corpus.extract import cache_config, extract
    from avdetect.corpus.manifest import read_manifest
    from avdetect.perception.audio import SpeechConfig
    from avdetect.perception.perceiver import PerceptionConfig
    from avdetect.perception.video import DecodeConfig

    config = PerceptionConfig(decode=DecodeConfig(n_frames=args.frames), speech=SpeechConfig(method=args.speech))
    _check_device(args.device)
    start = time.perf_counter()
    rows = read_manifest(args.manifest)
    open_cache(args.output, cache_config(config))  # refuse before drawing anything
    with _progress_bar() as bar:
        summary = extract(rows, args.output, config=config, workers=args.workers, device=args.device,
                          timeout_s=args.timeout,
                          progress=_on_result(bar, bar.add_task("extract", total=len(rows)), len(rows)))
    done, cached, failed = (summary.count(s) for s in ("ok", "cached", "error"))
    elapsed = time.perf_counter() - start
    per_video = f", {elapsed / (done + failed):.2f} s/video" if done + failed else ""
    print(f"{args.output}: {done} done, {cached} skipped as cached, {failed} failed in {elapsed:.1f} s"
          f"{per_video}" + (f"; see {args.output / FAILURES_NAME}" if failed else ""))
    return 1 if failed else 0


def _check_device(name: str) -> None:
    """ValueError when torch device ``name`` cannot be used here; checked once, not in every worker."""
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"--device {name!r}: {str(err).splitlines()[0]}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name!r}: no CUDA GPU is available here; use --device cpu")


def _progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))


def _on_result(bar: Progress, task: TaskID, total: int) -> Callable[[VideoResult], None]:
    """The progress callback: cached videos leave the total, so the ETA counts real work only."""
    remaining = total

    def on_result(result: VideoResult) -> None:
        nonlocal remaining
        if result.status == "cached":
            remaining -= 1
            bar.update(task, total=remaining)
            return
        bar.advance(task)
        if result.status == "error":
            bar.console.print(f"avdetect extract: {result.error}: {result.path}: {result.reason}")

    return on_result
