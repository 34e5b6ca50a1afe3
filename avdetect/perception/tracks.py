"""Linking per-frame face detections into tracks, and filling the frames between detections.

Pure numpy on boxes: no images, no models. A detection is (frame index, box x1y1x2y2, 5 landmarks,
probability). A face moves little between samples a third of a second apart, so a box overlap (IoU)
test links them; where a face moves too much between two detections, the frames between them are
detected too instead of interpolated (see `unstable_gaps`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment


@dataclass(frozen=True)
class Detections:
    """Faces the detector found on one frame."""

    frame: int  # index into Clip.frames
    boxes: np.ndarray  # float32 (K, 4) x1, y1, x2, y2 in frame pixels
    landmarks: np.ndarray  # float32 (K, 5, 2) x, y in frame pixels
    probs: np.ndarray  # float32 (K,)


@dataclass(frozen=True)
class RawTrack:
    """A track before interpolation: only the frames where the detector found the face."""

    frames: np.ndarray  # int64 (D,) increasing
    boxes: np.ndarray  # float32 (D, 4)
    landmarks: np.ndarray  # float32 (D, 5, 2)
    probs: np.ndarray  # float32 (D,)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (len(a), len(b)) of boxes x1, y1, x2, y2."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def link(detections: list[Detections], *, min_iou: float = 0.2) -> list[RawTrack]:
    """Links detections, in frame order, to the track whose last box overlaps most (Hungarian)."""
    open_tracks: list[list[tuple[int, np.ndarray, np.ndarray, float]]] = []
    for det in sorted(detections, key=lambda d: d.frame):
        unmatched = set(range(len(det.boxes)))
        if open_tracks and len(det.boxes):
            last = np.stack([t[-1][1] for t in open_tracks])
            iou = box_iou(last, det.boxes)
            for ti, di in zip(*linear_sum_assignment(-iou)):
                if iou[ti, di] >= min_iou:
                    open_tracks[ti].append((det.frame, det.boxes[di], det.landmarks[di], det.probs[di]))
                    unmatched.discard(di)
        for di in sorted(unmatched):
            open_tracks.append([(det.frame, det.boxes[di], det.landmarks[di], det.probs[di])])
    return [_raw_track(t) for t in open_tracks]


def _raw_track(items: list[tuple[int, np.ndarray, np.ndarray, float]]) -> RawTrack:
    return RawTrack(
        frames=np.array([i[0] for i in items], np.int64),
        boxes=np.stack([i[1] for i in items]).astype(np.float32),
        landmarks=np.stack([i[2] for i in items]).astype(np.float32),
        probs=np.array([i[3] for i in items], np.float32),
    )


def unstable_gaps(tracks: list[RawTrack], detected: np.ndarray, *, min_iou: float) -> list[int]:
    """Frames lying between two detection frames where interpolation would not hold up.

    A gap is unstable when a track's box moves so that consecutive detections overlap less than
    `min_iou`, or when a track starts or ends at its edge (the face appeared or left somewhere inside).

    Args:
        tracks: tracks linked from the detections so far.
        detected: int64 (K,) sorted frames the detector has run on.
        min_iou: overlap below which a move is too large to interpolate.
    """
    bad: set[int] = set()
    for track in tracks:
        for j in range(len(track.frames) - 1):
            iou = box_iou(track.boxes[j : j + 1], track.boxes[j + 1 : j + 2])[0, 0]
            if iou < min_iou:
                bad.add(int(track.frames[j]))
        first, last = np.searchsorted(detected, [track.frames[0], track.frames[-1]])
        if first > 0:
            bad.add(int(detected[first - 1]))
        if last < len(detected) - 1:
            bad.add(int(track.frames[-1]))
    frames: list[int] = []
    for start in sorted(bad):
        k = int(np.searchsorted(detected, start))
        if k + 1 < len(detected):
            frames.extend(range(start + 1, int(detected[k + 1])))
    return sorted(set(frames))


def interpolate(track: RawTrack) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Fills every frame between a track's first and last detection by linear interpolation.

    Returns:
        frames int64 (T,), boxes float32 (T, 4), landmarks float32 (T, 5, 2), probs float32 (T,)
        (an interpolated frame carries the lower probability of its two neighbours), and
        detected bool (T,).
    """
    frames = np.arange(track.frames[0], track.frames[-1] + 1, dtype=np.int64)
    boxes = _interp(frames, track.frames, track.boxes.reshape(len(track.frames), -1)).reshape(-1, 4)
    marks = _interp(frames, track.frames, track.landmarks.reshape(len(track.frames), -1)).reshape(-1, 5, 2)
    detected = np.isin(frames, track.frames)
    right = np.clip(np.searchsorted(track.frames, frames), 0, len(track.frames) - 1)
    left = np.clip(right - 1, 0, None)
    probs = np.minimum(track.probs[left], track.probs[right])
    probs[detected] = track.probs[np.searchsorted(track.frames, frames[detected])]
    return frames, boxes.astype(np.float32), marks.astype(np.float32), probs.astype(np.float32), detected


def _interp(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Column-wise np.interp of fp (D, C) sampled at xp onto x."""
    return np.stack([np.interp(x, xp, fp[:, c]) for c in range(fp.shape[1])], axis=1)


def smooth_boxes(boxes: np.ndarray, window: int = 3) -> np.ndarray:
    """Moving average of boxes over time, so crops do not jitter with detector noise."""
    if len(boxes) < window or window < 2:
        return boxes
    pad = window // 2
    padded = np.pad(boxes, ((pad, pad), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack([np.convolve(padded[:, c], kernel, mode="valid") for c in range(4)], axis=1).astype(
        np.float32
    )


def even_picks(n: int, k: int) -> np.ndarray:
    """int64 indices of at most `k` of `n` items, evenly spread (all of them when n <= k)."""
    if n <= k:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))
