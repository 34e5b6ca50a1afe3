"""The one worker-process engine: batch scoring and extraction both run their inputs through it.

A hang or a crash in FFmpeg must cost one input, not the run. Each worker is a spawned process that
builds its task once (the scorer, the perceiver: models load once per worker, not per input); the parent
kills a worker that overruns the per-input time limit and replaces any that dies, and the input it held
gets a ``timeout`` or ``worker_crashed`` result made by the caller's `Failed` function.

    pool = WorkerPool(TaskSpec("avdetect.scoring.batch:make_task", (spec,)), failed, workers=2, timeout_s=300)
    with pool:
        pool.run(items, on_result)
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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

from avdetect.allocator import keep_large_buffers
from avdetect.errors import WorkerLoadError

log = logging.getLogger(__name__)

# The statuses the engine itself gives an input; every other status comes from the task's own result.
TIMEOUT, WORKER_CRASHED, INTERNAL_ERROR = "timeout", "worker_crashed", "internal_error"
DEFAULT_TIMEOUT_S = 300.0
LOAD_TIMEOUT_S = 900.0  # a worker that has not built its task by then is taken as hung

Item = TypeVar("Item")
Result = TypeVar("Result")
Failed = Callable[[Any, str, str, float], Any]  # (item, status, one-line reason, seconds) -> a result row


@dataclass(frozen=True)
class TaskSpec:
    """How a worker builds its task: ``factory`` names a function ``(*args) -> (item -> result)``.

    A name, not the function, so that it travels to spawned processes and Ray actors alike. The task
    should turn its own expected failures into result rows; anything it raises becomes ``internal_error``.
    """

    factory: str  # "module:function"
    args: tuple = field(default=())

    def build(self) -> Callable[[Any], Any]:
        module, _, name = self.factory.partition(":")
        return getattr(importlib.import_module(module), name)(*self.args)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one, e.g. in a container)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def torch_threads(workers: int) -> int:
    """Intra-op threads per worker so that `workers` workers share the CPUs this process may use once."""
    return max(1, available_cpus() // max(1, workers))


def one_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type name when it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _worker_main(conn: Connection, spec: TaskSpec, threads: int) -> None:
    """A worker process: build the task once, then run items until told to stop or the parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    keep_large_buffers()  # before the models allocate: their passes reuse memory instead of faulting it in
    try:
        task = spec.build()
        if "torch" in sys.modules:  # set here, in the worker, never at import
            sys.modules["torch"].set_num_threads(threads)
    except Exception as err:
        conn.send(("init_error", f"{type(err).__name__}: {one_line(err)}", traceback.format_exc()))
        return
    conn.send(("ready",))
    try:
        for item in iter(conn.recv, None):
            try:
                conn.send(("done", task(item)))
            except Exception as err:  # a bug in the task: one item's row, not the run
                conn.send(("error", f"{type(err).__name__}: {one_line(err)}", traceback.format_exc()))
    except (EOFError, OSError):  # the parent is gone
        return


class _Worker:
    """One worker process and the item it is running, if any."""

    def __init__(self, spec: TaskSpec, threads: int) -> None:
        context = multiprocessing.get_context("spawn")  # fork would copy torch's threads and CUDA state
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, spec, threads), daemon=True)
        self.process.start()
        child.close()
        self.ready, self.item, self.busy, self.started = False, None, False, time.monotonic()

    def submit(self, item: Any) -> None:
        self.conn.send(item)
        self.item, self.busy, self.started = item, True, time.monotonic()

    def release(self) -> Any:
        item, self.item, self.busy = self.item, None, False
        return item

    def stop(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()

    def death(self) -> str:  # e.g. "killed by SIGSEGV"
        self.process.join(5)
        code = self.process.exitcode
        return f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"


class WorkerPool(Generic[Item, Result]):
    """Runs items in `workers` spawned processes, each with its task built once; a context manager.

    Args:
        spec: how each worker builds its task.
        failed: makes the result row of an item the engine gave up on (timeout, crash, task bug).
        workers: processes running at once.
        timeout_s: per-item time limit in seconds; None or 0 for none.
        threads: torch threads per worker; default `torch_threads(workers)`.
    """

    def __init__(self, spec: TaskSpec, failed: Failed, *, workers: int = 1,
                 timeout_s: float | None = DEFAULT_TIMEOUT_S, threads: int | None = None) -> None:
        self.spec, self.failed, self.n_workers = spec, failed, max(1, workers)
        self.timeout_s = timeout_s or None
        self.threads, self.workers = threads or torch_threads(self.n_workers), []

    def __enter__(self) -> WorkerPool:
        self.workers = [_Worker(self.spec, self.threads) for _ in range(self.n_workers)]
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = []

    def run(self, items: Iterable[Item], on_result: Callable[[Result], None]) -> None:
        """Runs every item, calling `on_result` in this process as each finishes (in finishing order).

        Raises:
            WorkerLoadError: a worker could not build its task.
        """
        queue = deque(items)
        while queue or any(w.busy for w in self.workers):
            for worker in self.workers:
                if worker.ready and not worker.busy and queue:
                    worker.submit(queue.popleft())
            ready = wait([w.conn for w in self.workers], timeout=self._wait_s())
            for i, worker in enumerate(self.workers):
                if worker.conn in ready:
                    self._receive(i, on_result)
                elif self._overdue(worker):
                    self._replace(i, on_result, TIMEOUT, f"no result within {self.timeout_s:g} s, so its worker "
                                  "was stopped (raise --timeout for long inputs)")

    def _deadline(self, worker: _Worker) -> float:
        """Monotonic time by which `worker` must answer; inf when it is idle or items have no limit."""
        if not worker.ready:
            return worker.started + LOAD_TIMEOUT_S
        if not worker.busy or not self.timeout_s:
            return float("inf")
        return worker.started + self.timeout_s

    def _wait_s(self) -> float:
        return max(0.0, min(min(self._deadline(w) for w in self.workers) - time.monotonic(), 60.0))

    def _overdue(self, worker: _Worker) -> bool:
        if time.monotonic() <= self._deadline(worker):
            return False
        if not worker.ready:
            raise WorkerLoadError(f"a worker took over {LOAD_TIMEOUT_S:g} s to load")
        return True

    def _receive(self, i: int, on_result: Callable[[Result], None]) -> None:
        worker = self.workers[i]
        try:
            message = worker.conn.recv()
        except (EOFError, OSError):
            if not worker.ready:
                raise WorkerLoadError(f"a worker died while loading ({worker.death()})") from None
            reason = f"the worker process died ({worker.death()}) while on it, e.g. a crash in FFmpeg"
            self._replace(i, on_result, WORKER_CRASHED, reason)
            return
        if message[0] == "init_error":
            log.info("a worker failed to load:\n%s", message[2])
            raise WorkerLoadError(f"cannot load the worker: {message[1]}")
        if message[0] == "ready":
            worker.ready = True
        elif message[0] == "error":
            log.info("internal error on %s:\n%s", worker.item, message[2])
            seconds = time.monotonic() - worker.started
            on_result(self.failed(worker.release(), INTERNAL_ERROR, message[1], seconds))
        else:
            worker.release()
            on_result(message[1])

    def _replace(self, i: int, on_result: Callable[[Result], None], status: str, reason: str) -> None:
        """Stops worker `i`, reports its item (if any) as failed, and starts a fresh worker in its place."""
        worker = self.workers[i]
        worker.stop()
        self.workers[i] = _Worker(self.spec, self.threads)
        if worker.busy:
            on_result(self.failed(worker.item, status, reason, time.monotonic() - worker.started))
