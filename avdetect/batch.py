"""Batch scoring: which files to score, and scoring each in a worker process under a time limit.

A hang or a crash in FFmpeg must cost one input, not the batch. Each input is scored in a worker process
that loaded the scorer once; the parent kills a worker that overruns the limit and replaces any that dies,
and the input it held gets a ``timeout`` or ``worker_crashed`` row.
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import signal
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Protocol

from avdetect.errors import AvdetectError, InputError
from avdetect.scores import VideoScore, failed

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 300.0
LOAD_TIMEOUT_S = 900.0  # a worker that has not loaded the scorer by then is taken as hung
MEDIA_EXTENSIONS = frozenset(  # video, then audio; compared in lower case
    ".3g2 .3gp .asf .avi .dv .f4v .flv .gif .m2t .m2ts .m2v .m4v .mkv .mov .mp4 .mpe .mpeg .mpg .mts .mxf .ogv "
    ".qt .ts .vob .webm .wmv .y4m .aac .ac3 .aif .aiff .amr .caf .flac .m4a .mka .mp2 .mp3 .oga .ogg .opus "
    ".wav .wma".split())
TIMEOUT, WORKER_CRASHED, INTERNAL_ERROR = "timeout", "worker_crashed", "internal_error"

OnResult = Callable[[VideoScore], None]


class Scorer(Protocol):
    """Anything that scores one input; `avdetect.pipeline.Detector` is one."""

    def score(self, path: Path) -> VideoScore: ...


class ScorerLoadError(AvdetectError):
    """A worker could not build its scorer (bad model folder, unknown device, ...): nothing can be scored."""

    code = "scorer_load_error"


def make_scorer(model_dir: str | None, device: str) -> Scorer:
    """The default scorer: the Detector of `model_dir`, or the shipped model when it is None."""
    from avdetect.pipeline import Detector  # torch and the model load in the worker, not at import

    return Detector.load(model_dir, device=device)


@dataclass(frozen=True)
class ScorerSpec:
    """How a worker builds its scorer: ``factory`` names a function ``(model_dir, device) -> Scorer``
    (a name, not the function, so that it travels to spawned processes and Ray actors alike)."""

    factory: str = "avdetect.batch:make_scorer"  # "module:function"
    model_dir: str | None = None
    device: str = "cpu"

    def build(self) -> Scorer:
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)(self.model_dir, self.device)


def list_inputs(inputs: Iterable[str], *, list_files: Sequence[str] = ()) -> list[str]:
    """The inputs to score, in order and without repeats.

    Args:
        inputs: paths as typed. A file is always kept, whatever its extension, even if it does not exist
            (it gets an ``input_error`` row); a folder is searched recursively for visible files with a
            video or audio extension (`MEDIA_EXTENSIONS`, any case), and is kept as itself when it has
            none, so it gets a row saying so. ``@FILE`` reads paths from FILE.
        list_files: files of paths, one a line; blank lines and lines starting with ``#`` are skipped.
            Paths are taken as typed, i.e. relative to the current folder, like shell arguments.

    Raises:
        InputError: a list file cannot be read.
    """
    expanded: list[str] = []
    for item in list(inputs) + [f"@{name}" for name in list_files]:
        entries = read_list_file(item[1:]) if item.startswith("@") else [item]
        for entry in entries:
            expanded.extend(_expand(entry))
    return list(dict.fromkeys(os.path.normpath(path) for path in expanded))


def read_list_file(path: str) -> list[str]:
    """The paths in a list file: one a line, blank lines and ``#`` comments skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"list file {path}: cannot read it ({err.__class__.__name__}: {err})") from err
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _expand(entry: str) -> list[str]:
    if not os.path.isdir(entry):
        return [entry]
    found, skipped = media_files(entry)
    if skipped:
        log.warning("%s: left out %d file(s) without a video or audio extension, e.g. %s (name a file to score "
                    "it anyway)", entry, len(skipped), ", ".join(skipped[:3]))
    return found or [entry]


def media_files(folder: str) -> tuple[list[str], list[str]]:
    """(media files, other visible files) under `folder`, recursively, sorted; symlinks followed once."""
    found, skipped, seen = [], [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a symlink loop
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(f for f in files if not f.startswith(".")):
            is_media = os.path.splitext(name)[1].lower() in MEDIA_EXTENSIONS
            (found if is_media else skipped).append(os.path.join(root, name))
    return sorted(found), sorted(skipped)


def precheck(path: str) -> VideoScore | None:
    """The ``input_error`` row of a path that cannot be a media file, or None when it may be one."""
    if not os.path.exists(path):
        reason = "no such file or folder"
    elif os.path.isdir(path):
        reason = "a folder without any file with a video or audio extension"
    elif not os.path.isfile(path) or not os.access(path, os.R_OK):
        reason = "not a regular file that this user may read"
    else:
        return None
    return failed(path, "input_error", f"{path}: {reason}")


def score_one(scorer: Scorer, path: str) -> tuple[VideoScore, str]:
    """Scores `path`, turning every exception into a failed row. Returns (score, traceback or "")."""
    start, trace = time.perf_counter(), ""
    try:
        score = scorer.score(Path(path))
    except AvdetectError as err:
        score = failed(path, err.code, one_line(err))
    except Exception as err:  # last resort: one bad input must not end the batch or show a traceback
        score, trace = failed(path, INTERNAL_ERROR, f"{type(err).__name__}: {one_line(err)}"), traceback.format_exc()
    return replace(score, path=path, seconds=time.perf_counter() - start), trace


def one_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def torch_threads(workers: int) -> int:
    """Intra-op threads per worker so that `workers` workers share the CPUs this process may use."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cpus // max(1, workers))


def _worker_main(conn: Connection, spec: ScorerSpec, threads: int) -> None:
    """A worker process: build the scorer once, then score paths until told to stop or the parent dies."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        scorer = spec.build()
        if "torch" in sys.modules:  # set here, in the worker, never at import
            sys.modules["torch"].set_num_threads(threads)
    except Exception as err:
        conn.send(("init_error", f"{type(err).__name__}: {one_line(err)}", traceback.format_exc()))
        return
    conn.send(("ready",))
    try:
        for path in iter(conn.recv, None):
            conn.send(("done", *score_one(scorer, path)))
    except (EOFError, OSError):  # the parent is gone
        return


class _Worker:
    """One worker process and the input it is scoring, if any."""

    def __init__(self, spec: ScorerSpec, threads: int) -> None:
        context = multiprocessing.get_context("spawn")  # fork would copy torch's threads and CUDA state
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, spec, threads), daemon=True)
        self.process.start()
        child.close()
        self.ready, self.path, self.started = False, None, time.monotonic()

    def submit(self, path: str) -> None:
        self.conn.send(path)
        self.path, self.started = path, time.monotonic()

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def death(self) -> str:  # e.g. "killed by SIGSEGV"
        self.process.join(5)
        code = self.process.exitcode
        return f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"


class LocalEngine:
    """Scores inputs in `workers` processes, each with the scorer loaded once; a context manager.

    Args:
        spec: how each worker builds its scorer.
        workers: processes scoring at once.
        timeout_s: per-input time limit in seconds; None or 0 for none.
        threads: torch threads per worker; default `torch_threads(workers)`.
    """

    def __init__(self, spec: ScorerSpec, *, workers: int = 1, timeout_s: float | None = DEFAULT_TIMEOUT_S,
                 threads: int | None = None) -> None:
        self.spec, self.n_workers, self.timeout_s = spec, max(1, workers), timeout_s or None
        self.threads, self.workers = threads or torch_threads(self.n_workers), []

    def __enter__(self) -> LocalEngine:
        self.workers = [_Worker(self.spec, self.threads) for _ in range(self.n_workers)]
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def run(self, paths: Iterable[str], on_result: OnResult) -> None:
        """Scores every path, calling `on_result` in this process as each finishes (in finishing order).

        Raises:
            ScorerLoadError: a worker could not build its scorer.
        """
        queue = deque(paths)
        while queue or any(w.path is not None for w in self.workers):
            for worker in self.workers:
                if worker.ready and worker.path is None and queue:
                    worker.submit(queue.popleft())
            ready = wait([w.conn for w in self.workers], timeout=self._wait_s())
            for i, worker in enumerate(self.workers):
                if worker.conn in ready:
                    self._receive(i, on_result)
                elif self._overdue(worker):
                    self._replace(i, on_result, TIMEOUT, f"no result within {self.timeout_s:g} s, so its worker was "
                                  "stopped (raise --timeout for long inputs)")

    def _deadline(self, worker: _Worker) -> float:
        """Monotonic time by which `worker` must answer; inf when it is idle or inputs have no limit."""
        if not worker.ready:
            return worker.started + LOAD_TIMEOUT_S
        if worker.path is None or not self.timeout_s:
            return float("inf")
        return worker.started + self.timeout_s

    def _wait_s(self) -> float:
        return max(0.0, min(min(self._deadline(w) for w in self.workers) - time.monotonic(), 60.0))

    def _overdue(self, worker: _Worker) -> bool:
        if time.monotonic() <= self._deadline(worker):
            return False
        if not worker.ready:
            raise ScorerLoadError(f"a worker took over {LOAD_TIMEOUT_S:g} s to load the scorer")
        return True

    def _receive(self, i: int, on_result: OnResult) -> None:
        worker = self.workers[i]
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            if not worker.ready:
                raise ScorerLoadError(f"a worker died while loading the scorer ({worker.death()})") from None
            reason = f"the worker process died ({worker.death()}) while scoring it, e.g. a crash in FFmpeg"
            self._replace(i, on_result, WORKER_CRASHED, reason)
            return
        if message[0] == "init_error":
            log.info("the scorer failed to load:\n%s", message[2])
            raise ScorerLoadError(f"cannot load the scorer: {message[1]}")
        if message[0] == "ready":
            worker.ready = True
            return
        if message[2]:
            log.info("internal error on %s:\n%s", worker.path, message[2])
        worker.path = None
        on_result(message[1])

    def _replace(self, i: int, on_result: OnResult, status: str, reason: str) -> None:
        """Stops worker `i`, reports its input (if any) as failed, and starts a fresh worker in its place."""
        worker = self.workers[i]
        worker.stop()
        self.workers[i] = _Worker(self.spec, self.threads)
        if worker.path is not None:
            on_result(failed(worker.path, status, f"{worker.path}: {reason}", time.monotonic() - worker.started))
