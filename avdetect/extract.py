"""Runs the perception layer over a manifest into a resumable cache (layout: `avdetect.cache`).

Resuming: a video whose ``.npz`` is complete (`cache.is_complete`) is skipped; leftovers of a killed
run (``*.tmp.npz``, truncated files) are redone. ``index.csv`` and ``failures.csv`` get a row, flushed,
as each video finishes, so a ``kill -9`` loses only the videos that were in flight.

Workers are spawned processes, each with its own `Perceiver`; a video that crashes its worker (a
segfault in a codec, the OOM killer) breaks the whole pool, so the jobs that were in flight are rerun
one at a time in a fresh pool to find the culprit, which is recorded as ``worker_crash``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from avdetect.cache import (FAILURE_COLUMNS, FAILURES_NAME, INDEX_COLUMNS, INDEX_NAME, cache_key, is_complete,
                            load_perception, open_cache, read_index, remove_partial_files, save_perception)
from avdetect.errors import AvdetectError
from avdetect.manifest import ManifestRow
from avdetect.perception import Perceiver, PerceptionConfig
from avdetect.records import Perception

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
    error: str = ""  # error code: an `AvdetectError.code`, "internal_error" or "worker_crash"
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
            progress: Progress | None = None) -> ExtractSummary:
    """Extracts every video of ``rows`` into ``cache_dir`` that is not there yet.

    Args:
        rows: manifest rows; their paths name the videos.
        cache_dir: the cache folder, created if missing.
        config: perception options; must equal the ones the folder was made with.
        workers: worker processes, default one per available CPU; 0 runs in this process (no pool,
            torch threads untouched).
        device: torch device of the face detector in each worker.
        progress: called with each `VideoResult` as it is known.

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
        run_pool(jobs, workers, record, initargs=(config, device, threads_per_worker(workers)))
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
        return failure(job, "internal_error", f"{type(err).__name__}: {err}", time.perf_counter() - start)
    return success(job, seen, time.perf_counter() - start)


def run_here(jobs: Sequence[Job], config: PerceptionConfig, device: str, record: Record) -> None:
    """Runs jobs one after the other in this process."""
    perceiver = Perceiver(config, device=device) if jobs else None
    for job in jobs:
        record(process_video(perceiver, job))


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. in a container)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def threads_per_worker(workers: int) -> int:
    """Torch threads each worker may use so that workers together use the CPUs once."""
    return max(1, available_cpus() // workers)


# One per worker process, built once by `_init_worker` (the pool's initializer) and used by `_run_job`.
_worker: dict = {}


def _init_worker(config: PerceptionConfig, device: str, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent handles it
    _exit_with_parent()
    try:
        _worker["perceiver"] = Perceiver(config, device=device)
    except Exception as err:  # raised again by every job, so the parent stops with this error
        _worker["error"] = err


def _run_job(job: Job) -> VideoResult:
    if "error" in _worker:
        raise _worker["error"]
    return process_video(_worker["perceiver"], job)


def _exit_with_parent(interval_s: float = 1.0) -> None:
    """Ends this worker when its parent dies (``kill -9``), instead of idling as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def run_pool(jobs: Iterable[Job], workers: int, record: Record, *,
             initargs: tuple, initializer: Callable = _init_worker, task: Callable = _run_job) -> None:
    """Runs jobs in spawned worker processes, recording each result; survives workers that crash."""
    pending, suspects = deque(jobs), deque()
    context = multiprocessing.get_context("spawn")
    while pending or suspects:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=initializer,
                                 initargs=initargs) as pool:
            try:
                _drain(pool, task, pending, suspects, 2 * workers, record)
            except BaseException:  # Ctrl-C, a set-up error: let running videos finish, start no more
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def _drain(pool: ProcessPoolExecutor, task: Callable, pending: deque, suspects: deque, limit: int,
           record: Record) -> None:
    """Feeds ``pool`` until the jobs are done or it breaks. After a break (``suspects`` not empty) the
    suspects go one at a time, so a job that breaks a pool alone is the one that crashes."""
    inflight: dict[Future, Job] = {}
    isolating = bool(suspects)
    while True:
        if isolating and not inflight:
            isolating = bool(suspects)
            if suspects:
                job = suspects.popleft()
                inflight[pool.submit(task, job)] = job
        while not isolating and len(inflight) < limit and pending:
            job = pending.popleft()
            inflight[pool.submit(task, job)] = job
        if not inflight:
            return
        done, _ = wait(inflight, return_when=FIRST_COMPLETED)
        broken = [inflight.pop(f) for f in done if isinstance(f.exception(), BrokenProcessPool)]
        for future in done:
            if inflight.pop(future, None) is not None:
                record(future.result())  # raises a worker's set-up error: the run stops
        if broken:
            if isolating:  # the only job in flight broke the pool on its own
                record(failure(broken[0], "worker_crash", "the worker process died on this video", 0.0))
            else:
                suspects.extend(broken + list(inflight.values()))
            return
