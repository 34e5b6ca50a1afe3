"""Batch scoring on Ray Data: the same rows as the local engine, from actors on a laptop or a cluster.

The inputs become a dataset (`ray.data.from_items`), `map_batches` runs them through a pool of
`ScoreActor`s, and the driver writes each row as its batch comes back, with the same writers and resume
logic as the local engine. Each actor keeps a one-process `LocalEngine`, so the scorer still lives in a
child process: a hang or an FFmpeg crash costs one input (``timeout``, ``worker_crashed``), never the actor
and with it the whole Ray job. Ray is optional and imported only here, when this engine is asked for.
"""

from __future__ import annotations

import logging
import math
import pickle
import re
from collections.abc import Sequence

import numpy as np

from avdetect.errors import AvdetectError, RayEngineError, RayMissingError, WorkerLoadError
from avdetect.scoring.batch import LocalEngine, OnResult, ScorerSpec
from avdetect.scoring.scores import VideoScore
from avdetect.workers import DEFAULT_TIMEOUT_S, one_line, torch_threads

log = logging.getLogger(__name__)

ACTOR_CPUS = 0.5  # logical CPUs an actor reserves: fractional, so actors never starve Ray Data's own tasks
LOCAL_SPARE_CPUS = 2  # a local Ray gets this many logical CPUs beyond its actors (a 2-CPU machine hung without)
LOCAL_MIN_CPUS = 4


def import_ray():
    """The `ray` module, with `ray.data` loaded.

    Raises:
        RayMissingError: Ray is not installed.
    """
    try:
        import ray
        import ray.data  # noqa: F401  (the submodule must load too)
    except ImportError:
        raise RayMissingError("--engine ray needs Ray Data: pip install 'avdetect[ray]' (or use --engine local)") \
            from None
    return ray


class ScoreActor:
    """A Ray Data actor: builds its isolated scorer process once and scores one batch of paths per call.

    Args:
        spec: how the scorer is built (in the actor's child process).
        timeout_s: per-input time limit, seconds; None or 0 for none.
        threads: torch threads of the child process.
    """

    def __init__(self, spec: ScorerSpec, timeout_s: float | None, threads: int) -> None:
        self.engine = LocalEngine(spec, workers=1, timeout_s=timeout_s, threads=threads).__enter__()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """{"path": (B,) str} -> {"path": (B,) str, "score": (B,) pickled VideoScore bytes}."""
        paths = [str(path) for path in batch["path"]]
        results: dict[str, VideoScore] = {}
        self.engine.run(paths, lambda score: results.__setitem__(score.path, score))
        return {"path": np.array(paths, dtype=object),
                "score": np.array([pickle.dumps(results[path]) for path in paths], dtype=object)}

    def __del__(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.__exit__(None, None, None)


def run_ray(spec: ScorerSpec, paths: Sequence[str], on_result: OnResult, *, workers: int = 1,
            timeout_s: float | None = DEFAULT_TIMEOUT_S, address: str | None = None) -> None:
    """Scores `paths` on Ray, calling `on_result` in this (driver) process as each row comes back.

    Uses the Ray instance already initialised in this process, else connects to `address`, else starts a
    local one with logical CPUs to spare (and shuts down what it started).

    Args:
        spec: how each actor builds its scorer.
        paths: inputs to score.
        on_result: called with each `VideoScore`, in finishing order.
        workers: actors, i.e. inputs scored at once; with a CUDA device each actor takes one GPU.
        timeout_s: per-input time limit, seconds; None or 0 for none.
        address: Ray cluster address (``ray://host:10001`` or ``auto``); None for the rule above.

    Raises:
        RayMissingError: Ray is not installed.
        WorkerLoadError: an actor could not build its scorer.
        RayEngineError: Ray failed otherwise.
    """
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        _init(ray, workers, address)
    try:
        # On this machine its CPUs are shared among the actors, as the local engine does; on a cluster an
        # actor cannot know how many share its node, so it takes one thread (give one worker per CPU).
        threads = torch_threads(workers) if address is None else 1
        for row in _scored(ray, spec, paths, workers, timeout_s, threads).iter_rows():
            on_result(pickle.loads(row["score"]))
    except ray.exceptions.RayError as err:
        raise _plain_error(err) from None
    finally:
        if started:
            ray.shutdown()


def _plain_error(err: Exception) -> AvdetectError:
    """Our error inside Ray's wrapping (which keeps only its text), or Ray's own in one line."""
    load = re.search(r"WorkerLoadError: (.+)", str(err))
    if load:
        return WorkerLoadError(load.group(1).strip())
    return RayEngineError(f"Ray failed: {type(err).__name__}: {one_line(err)}")


def _init(ray, workers: int, address: str | None) -> None:
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
        return
    cpus = max(LOCAL_MIN_CPUS, math.ceil(workers * ACTOR_CPUS) + LOCAL_SPARE_CPUS)
    ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING)


def _scored(ray, spec: ScorerSpec, paths: Sequence[str], workers: int, timeout_s: float | None, threads: int):
    """The lazy dataset of {"path", "score"} rows, one actor call per input."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the command draws its own bar
    context.print_on_execution_start = False
    gpus = 1 if spec.device.startswith("cuda") else 0
    dataset = ray.data.from_items([{"path": path} for path in paths], override_num_blocks=max(1, min(len(paths), 200)))
    return dataset.map_batches(ScoreActor, batch_size=1, batch_format="numpy",
                               compute=ray.data.ActorPoolStrategy(size=max(1, workers)), num_cpus=ACTOR_CPUS,
                               num_gpus=gpus,
                               fn_constructor_kwargs={"spec": spec, "timeout_s": timeout_s, "threads": threads})
