"""Batch scoring: which files to score, and scoring each in a worker process under a time limit.

The workers are `avdetect.workers`' engine: a hang or a crash in FFmpeg costs one input (a ``timeout`` or
``worker_crashed`` row), not the batch.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from avdetect.errors import AvdetectError, InputError
from avdetect.scoring.scores import VideoScore, failed
from avdetect.workers import DEFAULT_TIMEOUT_S, INTERNAL_ERROR, TaskSpec, WorkerPool, one_line

log = logging.getLogger(__name__)

MEDIA_EXTENSIONS = frozenset(  # video, then audio; compared in lower case
    ".3g2 .3gp .asf .avi .dv .f4v .flv .gif .m2t .m2ts .m2v .m4v .mkv .mov .mp4 .mpe .mpeg .mpg .mts .mxf .ogv "
    ".qt .ts .vob .webm .wmv .y4m .aac .ac3 .aif .aiff .amr .caf .flac .m4a .mka .mp2 .mp3 .oga .ogg .opus "
    ".wav .wma".split())

OnResult = Callable[[VideoScore], None]


class Scorer(Protocol):
    """Anything that scores one input; `avdetect.scoring.pipeline.Detector` is one."""

    def score(self, path: Path) -> VideoScore: ...


def make_scorer(model_dir: str | None, device: str, *, mode: str = "full") -> Scorer:
    """The default scorer: the Detector of `model_dir`, or the shipped model when it is None, in `mode`
    (`avdetect.scoring.modes`)."""
    from avdetect.scoring.pipeline import Detector  # torch and the model load in the worker, not at import

    return Detector.load(model_dir, device=device, mode=mode)


@dataclass(frozen=True)
class ScorerSpec:
    """How a worker builds its scorer: ``factory`` names a function ``(model_dir, device) -> Scorer``
    (a name, not the function, so that it travels to spawned processes and Ray actors alike); a mode
    other than "full" is passed to it as ``mode=``, so factories that know no modes still work in full."""

    factory: str = "avdetect.scoring.batch:make_scorer"  # "module:function"
    model_dir: str | None = None
    device: str = "cpu"
    mode: str = "full"  # a name in `avdetect.scoring.modes.MODES`

    def build(self) -> Scorer:
        module, _, name = self.factory.partition(":")
        options = {"mode": self.mode} if self.mode != "full" else {}
        return getattr(importlib.import_module(module), name)(self.model_dir, self.device, **options)


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


def score_typed(scorer: Scorer, path: str) -> VideoScore:
    """Scores `path`, turning our typed errors into a failed row; any other exception is a bug and rises."""
    start = time.perf_counter()
    try:
        score = scorer.score(Path(path))
    except AvdetectError as err:
        score = failed(path, err.code, one_line(err))
    return replace(score, path=path, seconds=time.perf_counter() - start)


def score_one(scorer: Scorer, path: str) -> tuple[VideoScore, str]:
    """Scores `path`, turning every exception into a failed row. Returns (score, traceback or "")."""
    start = time.perf_counter()
    try:
        return score_typed(scorer, path), ""
    except Exception as err:  # last resort: one bad input must not end the batch or show a traceback
        row = failed(path, INTERNAL_ERROR, f"{type(err).__name__}: {one_line(err)}", time.perf_counter() - start)
        return row, traceback.format_exc()


def make_task(spec: ScorerSpec) -> Callable[[str], VideoScore]:
    """The worker task of `avdetect.workers`: the scorer built once, then `score_typed` per path (the
    engine turns anything else it raises into an ``internal_error`` row and logs the traceback)."""
    scorer = spec.build()
    return lambda path: score_typed(scorer, path)


def _failed_row(path: str, status: str, reason: str, seconds: float) -> VideoScore:
    return failed(path, status, reason if status == INTERNAL_ERROR else f"{path}: {reason}", seconds)


class LocalEngine(WorkerPool):
    """Scores inputs in `workers` processes of `avdetect.workers`, each with the scorer loaded once.

    Args:
        spec: how each worker builds its scorer.
        workers: processes scoring at once.
        timeout_s: per-input time limit in seconds; None or 0 for none.
        threads: torch threads per worker; default `torch_threads(workers)`.
    """

    def __init__(self, spec: ScorerSpec, *, workers: int = 1, timeout_s: float | None = DEFAULT_TIMEOUT_S,
                 threads: int | None = None) -> None:
        super().__init__(TaskSpec("avdetect.scoring.batch:make_task", (spec,)), _failed_row, workers=workers,
                         timeout_s=timeout_s, threads=threads)
