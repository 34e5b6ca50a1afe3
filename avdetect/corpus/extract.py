"""Runs the perception layer over a manifest into a resumable cache (layout: `avdetect.corpus.cache`).

Resuming: a video whose ``.npz`` is complete (`cache.is_complete`) is skipped; leftovers of a killed
run (``*.tmp.npz``, truncated files) are redone. ``index.csv`` and ``failures.csv`` get a row, flushed,
as each video finishes, so a ``kill -9`` loses only the videos that were in flight.

Workers are `avdetect.workers`' engine, each with its own `Perceiver` built once: a video that hangs past
the time limit or crashes its worker (a segfault in a codec, the OOM killer) gets a ``timeout`` or
``worker_crashed`` row and the rest go on.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avdetect.corpus.cache import (
    FAILURE_COLUMNS,
    FAILURES_NAME,
    INDEX_COLUMNS,
    INDEX_NAME,
    cache_key,
    is_complete,
    load_perception,
    open_cache,
    read_index,
    remove_partial_files,
    save_perception,
)
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import AvdetectError
from avdetect.perception.perceiver import Perceiver, PerceptionConfig
from avdetect.records import Perception
from avdetect.workers import DEFAULT_TIMEOUT_S, INTERNAL_ERROR, TaskSpec, WorkerPool, available_cpus

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Job:
    """One video to extract."""

    source: str  # the video, as the manifest gives it (absolute)
    key: str  # `cache.cache_key` of the source
    target: str  # CACHE/<key>.npz


@dataclass(frozen=True)
class VideoResult:
    """What happened to one video."""

    path: str
    key: str
    status: str  # "ok" (extracted now), "cached" (skipped, already there) or "error"
    n_tracks: int = 0
    n_frames: int = 0  # sampled frames
    n_windows: int = 0  # log-mel windows
    seconds: float = 0.0  # wall-clock time of perception and saving
    error: str = ""  # error code: an `AvdetectError.code` or a status of `avdetect.workers` (timeout, ...)
    reason: str = ""  # one line


@dataclass(frozen=True)
class ExtractSummary:
    """All results of one `extract` run, in the order videos finished."""

    results: tuple[VideoResult, ...]

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)


Progress = Callable[[VideoResult], None]  # called once per video, cached ones first
Record = Callable[[VideoResult], None]  # logs a result and passes it on to `Progress`


def extract(rows: Sequence[ManifestRow], cache_dir: str | os.PathLike, *,
            config: PerceptionConfig = PerceptionConfig(), workers: int | None = None, device: str = "cpu",
            timeout_s: float | None = DEFAULT_TIMEOUT_S, progress: Progress | None = None,
            task: TaskSpec | None = None) -> ExtractSummary:
    """Extracts every video of ``rows`` into ``cache_dir`` that is not there yet.

    Args:
        rows: manifest rows; their paths name the videos.
        cache_dir: the cache folder, created if missing.
        config: perception options; must equal the ones the folder was made with.
        workers: worker processes, default one per available CPU; 0 runs in this process (no pool,
            torch threads untouched).
        device: torch device of the face detector in each worker.
        timeout_s: per-video time limit in seconds (None or 0 for none; not applied when workers is 0).
        progress: called with each `VideoResult` as it is known.
        task: how workers build their task, default `make_task(config, device)` (another one wraps or
            replaces perception, e.g. in tests).

    Returns:
        The results: per-video errors are recorded there and in failures.csv, never raised.

    Raises:
        CacheError: ``cache_dir`` was made with another config.
    """
    cache_dir = Path(cache_dir)
    open_cache(cache_dir, cache_config(config))
    remove_partial_files(cache_dir)
    jobs, cached = plan(rows, cache_dir)
    results: list[VideoResult] = []

    def record(result: VideoResult) -> None:
        if result.status != "cached":
            log_result(cache_dir, result)
        results.append(result)
        if progress:
            progress(result)

    for result in repair_index(cached, cache_dir):
        record(result)
    workers = available_cpus() if workers is None else workers
    if workers <= 0:
        run_here(jobs, config, device, record)
    else:
        task = task or TaskSpec("avdetect.corpus.extract:make_task", (config, device))
        run_pool(jobs, record, task=task, workers=workers, timeout_s=timeout_s)
    return ExtractSummary(tuple(results))


def cache_config(config: PerceptionConfig) -> dict:
    """What ``config.json`` holds (besides the format): the resolved perception config."""
    return {"perception": dataclasses.asdict(config)}


def plan(rows: Iterable[ManifestRow], cache_dir: Path) -> tuple[list[Job], list[Job]]:
    """Splits rows into jobs to run and jobs whose complete ``.npz`` is already there."""
    todo, cached, seen = [], [], set()
    for row in rows:
        key = cache_key(row.path)
        if key in seen:  # two manifest paths resolving to one file (symlinks)
            log.warning("skipped %s: same file as an earlier row", row.path)
            continue
        seen.add(key)
        job = Job(str(row.path), key, str(cache_dir / f"{key}.npz"))
        (cached if is_complete(job.target) else todo).append(job)
    return todo, cached


def repair_index(cached: Sequence[Job], cache_dir: Path) -> list[VideoResult]:
    """The "cached" results of ``cached``; writes again, from the stored record, the index row of a
    video whose row was lost (a kill between saving it and logging it)."""
    indexed = {row["path"] for row in read_index(cache_dir) if row["status"] == "ok"}
    for job in cached:
        if job.source not in indexed:
            seen = load_perception(job.target)
            log_result(cache_dir, success(job, seen, seen.times.total_s))
    return [VideoResult(job.source, job.key, "cached") for job in cached]


def log_result(cache_dir: Path, result: VideoResult) -> None:
    """Appends a finished video to index.csv, and a failed one to failures.csv too."""
    row = [result.path, result.key, result.status, result.n_tracks, result.n_frames, result.n_windows,
           f"{result.seconds:.3f}"]
    append_csv_row(cache_dir / INDEX_NAME, INDEX_COLUMNS, row)
    if result.status == "error":
        append_csv_row(cache_dir / FAILURES_NAME, FAILURE_COLUMNS, [result.path, result.error, result.reason])


def append_csv_row(path: Path, columns: Sequence[str], row: list) -> None:
    """Appends one row, flushed (with a header to a new file), ending first a line a kill may have cut."""
    size = path.stat().st_size if path.exists() else 0
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([columns, row] if size == 0 else [row])
    with path.open("ab+") as f:
        if size and (f.seek(-1, os.SEEK_END), f.read(1))[1] != b"\n":
            f.write(b"\n")
        f.write(buffer.getvalue().encode("utf-8"))
        f.flush()


def success(job: Job, seen: Perception, seconds: float) -> VideoResult:
    """The "ok" result of a job, with the counts of what it found."""
    windows = len(seen.audio.windows.mels) if seen.audio is not None else 0
    return VideoResult(job.source, job.key, "ok", n_tracks=len(seen.faces.tracks),
                       n_frames=len(seen.clip.times_s), n_windows=windows, seconds=seconds)


def failure(job: Job, code: str, reason: str, seconds: float) -> VideoResult:
    """The "error" result of a job; the reason is cut to its first line."""
    line = (reason.splitlines() or [code])[0]
    return VideoResult(job.source, job.key, "error", seconds=seconds, error=code, reason=line)


def process_video(perceiver: Perceiver, job: Job) -> VideoResult:
    """Perceives one video and saves it; every failure becomes an "error" result."""
    start = time.perf_counter()
    try:
        seen = perceiver(job.source)
        save_perception(job.target, seen)
    except AvdetectError as err:
        return failure(job, err.code, str(err) or type(err).__name__, time.perf_counter() - start)
    except Exception as err:  # one bad input must not end the run; the type names the bug
        log.debug("unexpected failure on %s", job.source, exc_info=True)
        return failure(job, INTERNAL_ERROR, f"{type(err).__name__}: {err}", time.perf_counter() - start)
    return success(job, seen, time.perf_counter() - start)


def run_here(jobs: Sequence[Job], config: PerceptionConfig, device: str, record: Record) -> None:
    """Runs jobs one after the other in this process."""
    perceiver = Perceiver(config, device=device) if jobs else None
    for job in jobs:
        record(process_video(perceiver, job))


def make_task(config: PerceptionConfig, device: str) -> Callable[[Job], VideoResult]:
    """The worker task of `avdetect.workers`: a perceiver built once, then `process_video` per job."""
    perceiver = Perceiver(config, device=device)
    return lambda job: process_video(perceiver, job)


def run_pool(jobs: Sequence[Job], record: Record, *, task: TaskSpec, workers: int,
             timeout_s: float | None = DEFAULT_TIMEOUT_S) -> None:
    """Runs jobs in `avdetect.workers`' engine: a job that hangs or crashes its worker is one error row."""
    if not jobs:
        return
    with WorkerPool(task, failure, workers=workers, timeout_s=timeout_s) as pool:
        pool.run(jobs, record)

