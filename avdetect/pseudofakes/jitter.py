"""Colour, frequency and geometry jitter of the face that gets blended back in.

Shiohara & Yamasaki (CVPR 2022, "source-target generator") make the blended-in copy differ from the
original by RGB/HSV shifts, brightness-contrast, down-sampling or sharpening, a small resize and a
translation: the colour mismatch, blur and double edges that face swaps leave behind.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from avdetect.pseudofakes.masks import face_frame

GREY = np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R BT.601 luma weights


@dataclass(frozen=True)
class JitterConfig:
    """Ranges the jitter parameters are drawn from (uniform)."""

    rgb_shift: float = 10.0  # largest per-channel offset, 8-bit levels
    brightness: float = 10.0  # largest common offset, 8-bit levels
    contrast: tuple[float, float] = (0.9, 1.1)  # gain about the mean
    saturation: tuple[float, float] = (0.85, 1.15)  # 0 is grey, 1 unchanged
    filters: tuple[str, ...] = ("none", "blur", "sharpen", "downscale")  # drawn uniformly
    blur: tuple[float, float] = (0.01, 0.03)  # Gaussian sigma, eye distances
    sharpen: tuple[float, float] = (0.3, 1.0)  # unsharp-mask amount
    downscale: tuple[float, float] = (0.35, 0.75)  # resize factor before scaling back up
    scale: tuple[float, float] = (0.95, 1.05)  # resize about the face centre, each axis
    translate: float = 0.05  # largest shift, eye distances, each axis


@dataclass(frozen=True)
class JitterParams:
    """One draw of the jitter parameters; apply to any face with `jitter_face`."""

    rgb_shift: np.ndarray  # float32 (3,) 8-bit levels
    brightness: float
    contrast: float
    saturation: float
    filter: str  # one of JitterConfig.filters
    filter_amount: float  # sigma (eye distances), sharpen amount or downscale factor
    scale: tuple[float, float]  # x, y along the face's own axes
    translate: tuple[float, float]  # x, y along the face's own axes, eye distances


def draw_jitter_params(rng: np.random.Generator, config: JitterConfig = JitterConfig()) -> JitterParams:
    """Draw jitter parameters from `config` with `rng`."""
    name = str(config.filters[rng.integers(len(config.filters))])
    ranges = {"none": (0.0, 0.0), "blur": config.blur, "sharpen": config.sharpen, "downscale": config.downscale}
    if name not in ranges:
        raise ValueError(f"unknown filter {name!r}; valid: {sorted(ranges)}")
    return JitterParams(
        rgb_shift=rng.uniform(-config.rgb_shift, config.rgb_shift, 3).astype(np.float32),
        brightness=float(rng.uniform(-config.brightness, config.brightness)),
        contrast=float(rng.uniform(*config.contrast)),
        saturation=float(rng.uniform(*config.saturation)),
        filter=name,
        filter_amount=float(rng.uniform(*ranges[name])),
        scale=(float(rng.uniform(*config.scale)), float(rng.uniform(*config.scale))),
        translate=tuple(float(t) for t in rng.uniform(-config.translate, config.translate, 2)),
    )


def _warp_matrix(landmarks: np.ndarray, params: JitterParams) -> np.ndarray:
    """(2, 3) affine map from output pixels to input pixels: scale about the face centre, then shift."""
    frame = face_frame(landmarks)
    axes = np.stack([frame.across, frame.down], 1)  # columns: the face's own x and y axes
    centre = (frame.eye_mid + frame.mouth_mid) / 2
    forward = axes @ np.diag(params.scale) @ axes.T
    shift = axes @ np.asarray(params.translate) * frame.eye_dist
    inverse = np.linalg.inv(forward)
    return np.hstack([inverse, (centre - inverse @ (centre + shift))[:, None]])


def warp_affine(image: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) image resampled bilinearly; `matrix` (2, 3) maps output to input pixels.

    Pixels mapped from outside the input keep the nearest edge colour (never black borders inside a mask).
    """
    height, width = image.shape[:2]
    pad = max(height, width) // 2
    padded = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    shifted = matrix.astype(np.float64).copy()
    shifted[:, 2] += pad + 0.5 - 0.5 * shifted[:, :2].sum(1)  # PIL's coordinates put pixel centres at +0.5
    warped = Image.fromarray(padded).transform(
        (width, height), Image.Transform.AFFINE, tuple(shifted.reshape(-1)), resample=Image.Resampling.BILINEAR
    )
    return np.asarray(warped)


def _filter(image: np.ndarray, name: str, amount: float, eye_dist: float) -> np.ndarray:
    """float32 (H, W, 3) after the frequency jitter `name`."""
    if name == "blur":
        return ndimage.gaussian_filter(image, (amount * eye_dist, amount * eye_dist, 0))
    if name == "sharpen":
        return image + amount * (image - ndimage.gaussian_filter(image, (1.0, 1.0, 0)))
    if name == "downscale":
        height, width = image.shape[:2]
        small = (max(1, round(width * amount)), max(1, round(height * amount)))
        pil = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).resize(small, Image.Resampling.BILINEAR)
        return np.asarray(pil.resize((width, height), Image.Resampling.BILINEAR), np.float32)
    return image


def _colour(image: np.ndarray, params: JitterParams) -> np.ndarray:
    """float32 (H, W, 3) after saturation, contrast, brightness and per-channel shifts."""
    grey = np.einsum("hwc,c->hw", image, GREY)[..., None]
    image = grey + params.saturation * (image - grey)
    mean = image.mean(axis=(0, 1), keepdims=True)
    return mean + params.contrast * (image - mean) + params.brightness + params.rgb_shift


def _homogeneous(matrix: np.ndarray) -> np.ndarray:
    """(3, 3) homogeneous form of a (2, 3) affine matrix."""
    return np.vstack([matrix, [0.0, 0.0, 1.0]])


def warp_face(
    image: np.ndarray, landmarks: np.ndarray, params: JitterParams, *, source_matrix: np.ndarray | None = None
) -> np.ndarray:
    """uint8 (H, W, 3) `image` resized and shifted about the face of `landmarks`, in one resampling.

    Args:
        image: uint8 (H, W, 3) RGB.
        landmarks: (5, 2) face landmarks in output pixels.
        params: the drawn jitter.
        source_matrix: (2, 3) map from output pixels to `image` pixels applied before the jitter (e.g. a
            similarity aligning another face); identity when None.
    """
    matrix = _warp_matrix(landmarks, params)
    if source_matrix is not None:
        matrix = (_homogeneous(source_matrix) @ _homogeneous(matrix))[:2]
    return warp_affine(image, matrix)


def retouch(image: np.ndarray, landmarks: np.ndarray, params: JitterParams) -> np.ndarray:
    """uint8 (H, W, 3) `image` after the frequency and colour jitter (sizes relative to `landmarks`)."""
    filtered = _filter(image.astype(np.float32), params.filter, params.filter_amount, face_frame(landmarks).eye_dist)
    return np.clip(np.rint(_colour(filtered, params)), 0, 255).astype(np.uint8)


def jitter_face(image: np.ndarray, landmarks: np.ndarray, params: JitterParams) -> np.ndarray:
    """uint8 (H, W, 3) copy of `image` warped, filtered and recoloured around the face of `landmarks`."""
    return retouch(warp_face(image, landmarks, params), landmarks, params)
