"""The adapter between the web app and the scoring worker engine: the only module that knows its API.

The engine (`avdetect.scoring.batch.LocalEngine`, on `avdetect.workers`) scores a finite list of paths
per `run` call, from one thread. Here one background thread owns it: it starts the workers when the
server starts (each loads the model once), then hands them the queued paths, at most one per worker per
`run`, so a path handed over is being scored now and its job can say so. A timeout or a crash costs that
one input a failed row; a worker that cannot load fails the paths it was given, and the engine is
started afresh for the next ones.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

from avdetect.errors import AvdetectError
from avdetect.scoring.batch import LocalEngine, ScorerSpec
from avdetect.scoring.scores import VideoScore, failed
from avdetect.workers import INTERNAL_ERROR, one_line

log = logging.getLogger(__name__)

OnStart = Callable[[list[str]], None]
OnResult = Callable[[VideoScore], None]


class ScoringQueue:
    """Scores submitted paths in worker processes, calling back from its own thread.

    Args:
        spec: how each worker builds its scorer.
        workers: scoring processes.
        timeout_s: per-input time limit in seconds; 0 for none.
        on_start: called with the paths handed to the workers, before they are scored.
        on_result: called with each path's score or failed row.
    """

    def __init__(self, spec: ScorerSpec, *, workers: int, timeout_s: float, on_start: OnStart,
                 on_result: OnResult) -> None:
        self.spec, self.workers, self.timeout_s = spec, max(1, workers), timeout_s
        self.on_start, self.on_result = on_start, on_result
        self._inbox: queue.Queue[str | None] = queue.Queue()
        self._engine: LocalEngine | None = None  # owned by the thread
        self._thread = threading.Thread(target=self._loop, name="avdetect-scoring", daemon=True)

    def start(self) -> None:
        """Starts the thread, which starts the workers (they load the model in the background)."""
        self._thread.start()

    def submit(self, path: str) -> None:
        """Queues `path`; its result comes to `on_result`."""
        self._inbox.put(path)

    def close(self, wait_s: float = 5.0) -> None:
        """Stops after the paths being scored now; queued ones are dropped. The workers are killed on
        exit; a thread still scoring after `wait_s` is left to die with the process (it is a daemon)."""
        self._inbox.put(None)
        if self._thread.is_alive():
            self._thread.join(wait_s)

    def _loop(self) -> None:
        self._engine = self._open(quiet=True)  # the workers load the model now, before the first upload
        try:
            while (batch := self._next_batch()) is not None:
                self._score(batch)
        finally:
            self._shut()

    def _open(self, *, quiet: bool = False) -> LocalEngine | None:
        """A started engine; with `quiet`, None (and a log line) when it cannot start."""
        try:
            return LocalEngine(self.spec, workers=self.workers, timeout_s=self.timeout_s).__enter__()
        except Exception:
            if not quiet:
                raise
            log.exception("the scoring workers did not start; trying again with the first upload")
            return None

    def _shut(self) -> None:
        if self._engine is not None:
            self._engine.__exit__(None, None, None)
            self._engine = None

    def _next_batch(self) -> list[str] | None:
        """Waits for a path, then takes up to one per worker; None once `close` was called."""
        batch = [self._inbox.get()]
        while len(batch) < self.workers and not self._inbox.empty():
            batch.append(self._inbox.get_nowait())
        if None in batch:
            return None
        return batch

    def _score(self, batch: list[str]) -> None:
        """Scores `batch`. If the engine breaks, each unfinished path gets a failed row and the engine is
        started afresh for the next batch."""
        done: set[str] = set()

        def record(score: VideoScore) -> None:
            done.add(score.path)
            self._deliver(score)

        self.on_start(batch)
        try:
            self._engine = self._engine or self._open()
            self._engine.run(batch, record)
            return
        except AvdetectError as err:  # WorkerLoadError: a bad model folder, an unknown device, ...
            status, reason = err.code, one_line(err)
        except Exception as err:  # a bug of ours must fail these inputs, not stop the server
            log.exception("the scoring engine failed")
            status, reason = INTERNAL_ERROR, f"{type(err).__name__}: {one_line(err)}"
        self._shut()
        for path in batch:
            if path not in done:
                self._deliver(failed(path, status, reason))

    def _deliver(self, score: VideoScore) -> None:
        try:
            self.on_result(score)
        except Exception:  # the app's bookkeeping failed for one input: log it, keep scoring the rest
            log.exception("recording the result of %s failed", score.path)
