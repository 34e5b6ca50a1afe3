"""Typed, frozen records of the fusion layer: branch scores in (columnar, many videos), features out.

Every record holds plain numpy arrays, one entry per row, so readers of any file format stay thin and
the core functions never see a CSV. "No rows" is an empty array of the right dtype, never ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from stacking.errors import TableError


def _check_lengths(name: str, **arrays: np.ndarray) -> None:
    lengths = {key: len(value) for key, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise TableError(f"{name}: columns have different lengths {lengths}")


def _check_probabilities(name: str, p: np.ndarray) -> None:
    bad = ~((p >= 0.0) & (p <= 1.0))
    if bad.any():
        raise TableError(f"{name}: {int(bad.sum())} probabilities outside [0, 1] or NaN, "
                         f"e.g. {p[bad][:3].tolist()}; the branch must write probabilities, not logits")


@dataclass(frozen=True)
class FrameScores:
    """Per-face, per-frame fake probabilities of many videos (the visual branch's out-of-fold rows)."""

    video: np.ndarray  # str (N,) video id, the path as the branch wrote it
    track: np.ndarray  # int64 (N,) face track id within its video
    time_s: np.ndarray  # float64 (N,) presentation time of the frame, seconds from start; NaN if unknown
    p: np.ndarray  # float64 (N,) probability that this face in this frame is fake

    def __post_init__(self) -> None:
        _check_lengths("frame scores", video=self.video, track=self.track, time_s=self.time_s, p=self.p)
        _check_probabilities("frame scores", self.p)

    def __len__(self) -> int:
        return len(self.p)

    @classmethod
    def empty(cls) -> FrameScores:
        return cls(np.zeros(0, str), np.zeros(0, np.int64), np.zeros(0), np.zeros(0))


@dataclass(frozen=True)
class WindowScores:
    """Per-window synthetic-speech probabilities of many videos (the audio branch's out-of-fold rows)."""

    video: np.ndarray  # str (M,) video id
    start_s: np.ndarray  # float64 (M,) window start, seconds from the start of the file
    end_s: np.ndarray  # float64 (M,) window end, seconds, >= start_s
    p: np.ndarray  # float64 (M,) probability that the window's speech is synthetic

    def __post_init__(self) -> None:
        _check_lengths("window scores", video=self.video, start_s=self.start_s, end_s=self.end_s,
                       p=self.p)
        _check_probabilities("window scores", self.p)
        if (self.end_s < self.start_s).any():
            raise TableError("window scores: a window ends before it starts")

    def __len__(self) -> int:
        return len(self.p)

    @classmethod
    def empty(cls) -> WindowScores:
        return cls(np.zeros(0, str), np.zeros(0), np.zeros(0), np.zeros(0))


@dataclass(frozen=True)
class SyncTable:
    """Per-video lip-sync features, whatever columns the sync stage writes (one row per video)."""

    video: np.ndarray  # str (V,) video id, each at most once
    values: np.ndarray  # float64 (V, K) feature values; NaN where the sync stage had none
    names: tuple[str, ...]  # (K,) column names as written by the sync stage

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.video), len(self.names)):
            raise TableError(f"sync table: values {self.values.shape} do not match "
                             f"{len(self.video)} videos x {len(self.names)} names")
        if len(set(self.video.tolist())) < len(self.video):
            raise TableError("sync table: a video is listed twice")

    @classmethod
    def empty(cls, names: tuple[str, ...] = ()) -> SyncTable:
        """No video, with the columns `names` (what a sync stage would write)."""
        return cls(np.zeros(0, str), np.zeros((0, len(names))), tuple(names))


class FeatureTable(NamedTuple):
    """One feature row per video; unpacks as ``videos, X, names``."""

    videos: np.ndarray  # str (V,) video ids, sorted unless given
    X: np.ndarray  # float64 (V, F) features; NaN where the modality is missing (LightGBM handles it)
    names: tuple[str, ...]  # (F,) feature names

    def column(self, name: str) -> np.ndarray:
        """float64 (V,) the feature called ``name``; ValueError listing the names if unknown."""
        if name not in self.names:
            raise ValueError(f"unknown feature {name!r}; valid: {', '.join(self.names)}")
        return self.X[:, self.names.index(name)]
