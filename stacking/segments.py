"""Fake segments: the time intervals where per-frame or per-window scores say "manipulated".

Partial fakes (AV-Deepfake1M, LAV-DF) change a word or a few frames, so a video-level score hides
where. Scores are thresholded with hysteresis, as in Canny edge linking: a segment needs one score at
or above ``high`` and extends while scores stay at or above ``low``, so a single noisy frame neither
opens a segment nor splits one. Segments closer than ``merge_gap_s`` merge, and the ones shorter than
``min_length_s`` are dropped. Output is the manifest's ``fake_segments`` format: ``[[start_s, end_s]]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SegmentConfig:
    """Thresholds of `fake_segments`; probabilities in [0, 1], durations in seconds."""

    high: float = 0.7  # a segment needs a score at or above this
    low: float = 0.4  # and extends while scores stay at or above this
    merge_gap_s: float = 0.5  # gaps shorter than this are bridged
    min_length_s: float = 0.2  # segments shorter than this (after merging) are dropped

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"need 0 <= low <= high <= 1, got low={self.low}, high={self.high}")
        if self.merge_gap_s < 0 or self.min_length_s < 0:
            raise ValueError("merge_gap_s and min_length_s must not be negative")


def hysteresis(p: np.ndarray, *, high: float, low: float) -> np.ndarray:
    """bool (T,) True on each run of scores >= ``low`` that holds at least one score >= ``high``."""
    p = np.asarray(p, dtype=np.float64)
    above_low = p >= low
    run_id = np.cumsum(np.diff(np.concatenate([[False], above_low])).astype(np.int8) == 1) * above_low
    strong_runs = np.unique(run_id[(p >= high) & above_low])
    return np.isin(run_id, strong_runs[strong_runs > 0])


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) indices, inclusive, of each run of True in ``mask``."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask, np.int8), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(edges[0::2], edges[1::2])]


def merge_intervals(intervals: list[tuple[float, float]], gap_s: float) -> list[tuple[float, float]]:
    """Sorted union of ``intervals`` (touching ones too), also joining those less than ``gap_s`` apart."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(intervals):
        if merged and (start <= merged[-1][1] or start - merged[-1][1] < gap_s):
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def fake_segments(start_s: np.ndarray, end_s: np.ndarray, p: np.ndarray,
                  config: SegmentConfig = SegmentConfig()) -> list[list[float]]:
    """Fake intervals from scored spans (audio windows, or frames through `frame_spans`).

    Args:
        start_s: float (T,) start of each scored span, seconds.
        end_s: float (T,) end of each span, seconds.
        p: float (T,) probability that the span is fake.
        config: thresholds.

    Returns:
        ``[[start_s, end_s], ...]`` sorted and disjoint, rounded to milliseconds.
    """
    start_s, end_s, p = (np.asarray(a, dtype=np.float64) for a in (start_s, end_s, p))
    order = np.argsort(start_s, kind="stable")
    start_s, end_s, p = start_s[order], end_s[order], p[order]
    mask = hysteresis(p, high=config.high, low=config.low)
    spans = [(start_s[a], end_s[a:b + 1].max()) for a, b in runs(mask)]
    kept = [(a, b) for a, b in merge_intervals(spans, config.merge_gap_s) if b - a >= config.min_length_s]
    return [[round(float(a), 3), round(float(b), 3)] for a, b in kept]


def frame_spans(times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spans of frames at sorted ``times_s``: each reaches halfway to its neighbours.

    The first and last frames reach out by half the median spacing; a single frame is a point.
    """
    t = np.asarray(times_s, dtype=np.float64)
    if len(t) < 2:
        return t.copy(), t.copy()
    mid = (t[1:] + t[:-1]) / 2
    half = float(np.median(np.diff(t))) / 2
    return np.concatenate([[t[0] - half], mid]).clip(min=0.0), np.concatenate([mid, [t[-1] + half]])


def frame_segments(times_s: np.ndarray, p: np.ndarray,
                   config: SegmentConfig = SegmentConfig()) -> list[list[float]]:
    """Fake intervals from per-face frame scores; several faces in one frame count by their maximum.

    Args:
        times_s: float (N,) frame time of each score, seconds (repeated for several faces).
        p: float (N,) probability that the face is fake.
    """
    times, inverse = np.unique(np.asarray(times_s, dtype=np.float64), return_inverse=True)
    top = np.zeros(len(times))
    np.maximum.at(top, inverse, np.asarray(p, dtype=np.float64))
    return fake_segments(*frame_spans(times), top, config)
