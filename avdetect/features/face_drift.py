"""Motion of the face against its surroundings along the main track (issue 12): a pasted face drifts.

A face swap warps another face onto each frame's landmarks, and their detection noise moves the pasted face
a little against the head, hair and background it sits in, frame after frame; a real face and its
surroundings move as one, or apart smoothly (a head turning in front of a still background). On the dense
crops of the main track (`face_motion`'s): the shift of the inner face's content and of the ring's between
consecutive frames (the whole crop's phase correlation, refined for each region by Lucas-Kanade steps), and
how their difference jitters.

Built and tested, not fused in the shipped model: alone it separates face swaps from real videos, but the
stacker on generator-held-out folds gained nothing from it (data/shipped/README.md, "Tried on this recipe").

The crop box is interpolated along the sparse track, so whatever the box does cancels in the difference.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from avdetect.features.face_motion import (
    DENSE_MARGIN,
    crop_shifts,
    dense_fps,
    face_regions,
    high_freq_share,
    main_track,
    track_dense,
)
from avdetect.records import DenseFaceTrack, Perception

NAMES = tuple(f"face_drift_{n}" for n in ("jitter_median", "jitter_p90", "hf_share", "over_motion"))
MIN_RING_SHARE = 0.1  # of the crop: a face filling the frame leaves no surroundings to move against
BORDER = 3  # crop pixels left out at the edge: a shifted crop has nothing there
LK_STEPS = 3  # Lucas-Kanade refinements from the whole crop's shift


def face_drift_features(perception: Perception) -> np.ndarray:
    """float64 (len(NAMES),) face-against-ring motion of the main track; NaN without enough dense crops."""
    track = main_track(perception)
    dense = None if track is None else track_dense(perception, track)
    fps = dense_fps(dense)
    if fps is None:
        return np.full(len(NAMES), np.nan)
    _, _, ring = face_regions(dense)
    if ring.mean() < MIN_RING_SHARE:
        return np.full(len(NAMES), np.nan)
    return drift_stats(*region_shifts(dense, ring), dense.crops.shape[1], fps)


def region_shifts(dense: DenseFaceTrack, ring: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 (F-1, 2) twice: content shifts (crop pixels) of the inner face and of the ring.

    The whole crop's shift (phase correlation) starts both; Lucas-Kanade steps weighted to each region
    refine it (a region's own phase correlation would be pulled to zero by the edges of its mask).
    """
    crops = dense.crops.astype(np.float64)
    start = crop_shifts(crops)
    border = np.zeros(crops.shape[1:], bool)
    border[BORDER:-BORDER, BORDER:-BORDER] = True  # shifted pixels there came from outside the crop
    face = face_window(crops.shape[1]) * border
    return lucas_kanade(crops, face, start), lucas_kanade(crops, ring[:-1] & border, start)


def lucas_kanade(crops: np.ndarray, weights: np.ndarray, start: np.ndarray, steps: int = LK_STEPS) -> np.ndarray:
    """float64 (F-1, 2) the shift d minimising sum(w * (crop[t+1](x) - crop[t](x - d))^2), from `start`."""
    prev, nxt = crops[:-1], crops[1:]
    weights = np.broadcast_to(weights, prev.shape).astype(np.float64)
    shifts = start.copy()
    for _ in range(steps):
        moved = np.stack([ndimage.shift(p, (dy, dx), order=1, mode="nearest") for p, (dx, dy) in zip(prev, shifts)])
        gy, gx = np.gradient(moved, axis=(1, 2))
        residual = nxt - moved
        a = np.stack([[(weights * gx * gx).sum((1, 2)), (weights * gx * gy).sum((1, 2))],
                      [(weights * gx * gy).sum((1, 2)), (weights * gy * gy).sum((1, 2))]]).transpose(2, 0, 1)
        b = np.stack([(weights * gx * residual).sum((1, 2)), (weights * gy * residual).sum((1, 2))], axis=1)
        a += np.eye(2) * 1e-6 * np.trace(a, axis1=1, axis2=2)[:, None, None].clip(1e-9)
        shifts -= np.linalg.solve(a, b[..., None])[..., 0]
    return shifts


def face_window(size: int) -> np.ndarray:
    """float64 (S, S) a Hann window over the face box inside the crop, zero on the ring."""
    inner = int(round(DENSE_MARGIN / (1 + 2 * DENSE_MARGIN) * size))
    side = np.zeros(size)
    side[inner:size - inner] = np.hanning(size - 2 * inner)
    return np.outer(side, side)


def drift_stats(face: np.ndarray, ring: np.ndarray, size: int, fps: float) -> np.ndarray:
    """Frame-to-frame change of the face's drift against the ring (face sizes): median, 90th percentile;
    the drift velocity's high-frequency share; the median change over the median face motion."""
    face_px = size / (1 + 2 * DENSE_MARGIN)
    drift = (face - ring) / face_px  # face sizes per frame
    jitter = np.linalg.norm(np.diff(drift, axis=0), axis=1)
    motion = np.median(np.linalg.norm(face, axis=1)) / face_px
    return np.array([np.median(jitter), np.percentile(jitter, 90), high_freq_share(drift * fps, fps),
                     np.median(jitter) / max(motion, 1e-4)])
