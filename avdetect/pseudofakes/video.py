"""Face blending along a face track: steady, flickering and partial video pseudo-fakes.

A face swap is made frame by frame, so its blending boundary either stays put with the face (a good
swap) or wanders from frame to frame (temporal flicker, which video detectors such as FTCN (Zheng et
al., ICCV 2021) and AltFreezing (Wang et al., CVPR 2023) learn to see). Partial fakes swap only a stretch
of the clip (LAV-DF, Cai et al. 2022), so a per-frame label comes with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from avdetect.pseudofakes.faces import BlendConfig, BlendParams, apply_cross_blend, apply_self_blend, draw_blend_params

MIN_PARTIAL = 0.2  # shortest faked stretch of a partial fake, fraction of the track


@dataclass(frozen=True)
class TrackBlend:
    """A face track with blended faces, their masks and which frames were faked."""

    crops: np.ndarray  # uint8 (T, S, S, 3) RGB, as FaceTrack.crops
    masks: np.ndarray  # float32 (T, S, S) in [0, 1]; all zero on frames left real
    fake: np.ndarray  # bool (T,) True where the frame was blended
    mode: str  # one of TRACK_MODES


Plan = list[BlendParams | None]  # per frame: the blend to apply, or None to keep the frame real


def _steady(n_frames: int, rng: np.random.Generator, config: BlendConfig) -> Plan:
    """One draw for the whole track: the mask and jitter follow the landmarks, frame after frame."""
    params = draw_blend_params(rng, config)
    return [params] * n_frames


def _flicker(n_frames: int, rng: np.random.Generator, config: BlendConfig) -> Plan:
    """A fresh draw every frame: the boundary, colour and blur jump from frame to frame."""
    return [draw_blend_params(rng, config) for _ in range(n_frames)]


def _partial(n_frames: int, rng: np.random.Generator, config: BlendConfig) -> Plan:
    """A steady blend on one random stretch of at least MIN_PARTIAL of the track, real elsewhere."""
    length = int(rng.integers(max(1, round(MIN_PARTIAL * n_frames)), n_frames + 1))
    start = int(rng.integers(0, n_frames - length + 1))
    params = draw_blend_params(rng, config)
    return [params if start <= t < start + length else None for t in range(n_frames)]


TRACK_MODES: dict[str, Callable[[int, np.random.Generator, BlendConfig], Plan]] = {
    "steady": _steady,
    "flicker": _flicker,
    "partial": _partial,
}


def _check_track(crops: np.ndarray, landmarks: np.ndarray) -> None:
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[3] != 3:
        raise ValueError(f"crops must be uint8 (T, S, S, 3), got {crops.dtype} {crops.shape}")
    if landmarks.shape != (len(crops), 5, 2):
        raise ValueError(f"landmarks must be (T, 5, 2) with T = {len(crops)}, got {landmarks.shape}")


def blend_track(
    crops: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    *,
    mode: str = "steady",
    source_image: np.ndarray | None = None,
    source_landmarks: np.ndarray | None = None,
    config: BlendConfig = BlendConfig(),
) -> TrackBlend:
    """Blend faces along a track: self-blends, or cross-blends of one source face when it is given.

    Args:
        crops: uint8 (T, S, S, 3) RGB face crops (FaceTrack.crops).
        landmarks: (T, 5, 2) landmarks in crop pixels (FaceTrack.crop_landmarks()).
        rng: source of all randomness.
        mode: "steady" (one draw for all frames), "flicker" (a draw per frame) or "partial" (a steady
            blend on a random stretch only).
        source_image: uint8 (H, W, 3) another identity to paste in (cross-blend); None self-blends.
        source_landmarks: (5, 2) landmarks of `source_image`; given exactly when it is.
        config: parameter ranges.

    Raises:
        ValueError: unknown `mode`, mismatched shapes, or only one of the source arguments.
    """
    if mode not in TRACK_MODES:
        raise ValueError(f"unknown track mode {mode!r}; valid: {sorted(TRACK_MODES)}")
    if (source_image is None) != (source_landmarks is None):
        raise ValueError("give source_image and source_landmarks together, or neither")
    _check_track(crops, landmarks)
    out, masks = crops.copy(), np.zeros(crops.shape[:3], np.float32)
    plan = TRACK_MODES[mode](len(crops), rng, config)
    for t, params in enumerate(plan):
        if params is None:
            continue
        if source_image is None:
            result = apply_self_blend(crops[t], landmarks[t], params)
        else:
            result = apply_cross_blend(crops[t], landmarks[t], source_image, source_landmarks, params)
        out[t], masks[t] = result.image, result.mask
    return TrackBlend(out, masks, np.array([p is not None for p in plan], bool), mode)
