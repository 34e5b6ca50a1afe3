"""Pseudo-fake faces made from real ones: self-blended and cross-blended images.

Self-blended images (Shiohara & Yamasaki, CVPR 2022) blend a jittered copy of a face into itself
through a soft face mask; trained on real faces only they reached 0.93 video AUC on Celeb-DF. Face
X-ray (Li et al., CVPR 2020) blends a different identity, aligned by landmarks and colour-corrected.
Both keep the mask, the "where was it blended" label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avdetect.pseudofakes.jitter import JitterConfig, JitterParams, draw_jitter_params, jitter_face, retouch, warp_face
from avdetect.pseudofakes.masks import MaskConfig, MaskParams, draw_mask_params, face_mask

# Reinhard et al., "Color Transfer between Images" (2001): RGB -> LMS, log10, then decorrelated l-alpha-beta.
RGB_TO_LMS = np.array([[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]])
LMS_TO_LAB = np.diag([1 / np.sqrt(3), 1 / np.sqrt(6), 1 / np.sqrt(2)]) @ np.array([[1, 1, 1], [1, 1, -2], [1, -1, 0]])

STD_RATIO = (0.4, 1.25)  # bounds of the std scaling in the colour transfer: shrink freely, amplify little


@dataclass(frozen=True)
class BlendConfig:
    """Ranges every blending parameter is drawn from."""

    mask: MaskConfig = field(default_factory=MaskConfig)
    jitter: JitterConfig = field(default_factory=JitterConfig)
    ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # SBI's blend ratios, drawn uniformly
    colour_transfer: tuple[float, float] = (0.75, 1.0)  # strength of the Reinhard transfer (cross blends)


@dataclass(frozen=True)
class BlendParams:
    """One draw of everything random in a blend; the same draw applied to every frame gives a steady fake."""

    mask: MaskParams
    jitter: JitterParams
    ratio: float  # peak weight of the blended-in face
    colour_transfer: float  # 0 keeps the source colours, 1 matches the target's mean and std


@dataclass(frozen=True)
class BlendResult:
    """A blended face and where it was blended."""

    image: np.ndarray  # uint8 (H, W, 3) RGB
    mask: np.ndarray  # float32 (H, W) in [0, 1], weight of the blended-in face (ratio included)


def draw_blend_params(rng: np.random.Generator, config: BlendConfig = BlendConfig()) -> BlendParams:
    """Draw every random parameter of one blend from `config` with `rng`."""
    return BlendParams(
        mask=draw_mask_params(rng, config.mask),
        jitter=draw_jitter_params(rng, config.jitter),
        ratio=float(config.ratios[rng.integers(len(config.ratios))]),
        colour_transfer=float(rng.uniform(*config.colour_transfer)),
    )


def _check_image(image: np.ndarray, name: str) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be uint8 (H, W, 3) RGB, got {image.dtype} {image.shape}")


def blend(target: np.ndarray, source: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) alpha blend: `source` where `mask` is 1, `target` where it is 0 (exactly)."""
    alpha = mask[..., None]
    mixed = alpha * source.astype(np.float32) + (1.0 - alpha) * target.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def apply_self_blend(image: np.ndarray, landmarks: np.ndarray, params: BlendParams) -> BlendResult:
    """Blend a jittered copy of the face into `image` with the drawn `params` (see `self_blend`)."""
    _check_image(image, "image")
    source = jitter_face(image, landmarks, params.jitter)
    mask = face_mask(image.shape[0], image.shape[1], landmarks, params.mask) * np.float32(params.ratio)
    return BlendResult(blend(image, source, mask), mask)


def self_blend(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, *, config: BlendConfig = BlendConfig()
) -> BlendResult:
    """Self-blended image (Shiohara & Yamasaki 2022): the face blended into itself after a jitter.

    Args:
        image: uint8 (H, W, 3) RGB containing one face.
        landmarks: (5, 2) MTCNN landmarks in `image` pixels: left eye, right eye, nose, mouth corners.
        rng: source of all randomness; the same seed gives the same result.
        config: parameter ranges.

    Returns:
        The blended image and its mask; pixels where the mask is 0 are those of `image`.
    """
    return apply_self_blend(image, landmarks, draw_blend_params(rng, config))


def similarity_matrix(from_points: np.ndarray, to_points: np.ndarray) -> np.ndarray:
    """(2, 3) least-squares similarity (scale, rotation, shift) mapping `from_points` onto `to_points`.

    Umeyama, "Least-squares estimation of transformation parameters between two point patterns" (1991).
    """
    src, dst = np.asarray(from_points, np.float64), np.asarray(to_points, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt)) or 1.0])
    rotation = u @ d @ vt
    scale = np.trace(np.diag(s) @ d) / max(src_c.var(0).sum(), 1e-12)
    return np.hstack([scale * rotation, (dst_mean - scale * rotation @ src_mean)[:, None]])


def pose_distance(landmarks: np.ndarray, other: np.ndarray) -> float:
    """Landmark residual after the best similarity alignment of `other` onto `landmarks`, in eye distances.

    Face X-ray (Li et al. 2020) blends in the nearest neighbour by landmarks, so that the pasted face has
    the same pose and expression and only the blending, not a warped head, gives it away.
    """
    matrix = similarity_matrix(other, landmarks)
    mapped = np.asarray(other, np.float64) @ matrix[:, :2].T + matrix[:, 2]
    eye_dist = max(float(np.linalg.norm(landmarks[1] - landmarks[0])), 1e-3)
    return float(np.sqrt(np.mean(np.sum((mapped - landmarks) ** 2, axis=1)))) / eye_dist


def nearest_pose(landmarks: np.ndarray, candidates: np.ndarray) -> int:
    """Index of the (K, 5, 2) `candidates` whose landmarks are closest to `landmarks` by `pose_distance`."""
    if len(candidates) == 0:
        raise ValueError("no candidate faces to choose a source from")
    return int(np.argmin([pose_distance(landmarks, c) for c in candidates]))


def _per_pixel(pixels: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 3) pixels times a (3, 3) matrix, by einsum: BLAS matmul of so thin a matrix measured 30x slower."""
    return np.einsum("nk,jk->nj", pixels, matrix)


def _to_lab(image: np.ndarray) -> np.ndarray:
    lms = np.maximum(_per_pixel(image.reshape(-1, 3) / 255.0, RGB_TO_LMS), 1.0 / 255.0)
    return _per_pixel(np.log10(lms), LMS_TO_LAB)


def _from_lab(lab: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    lms = 10.0 ** _per_pixel(lab, np.linalg.inv(LMS_TO_LAB))
    return (_per_pixel(lms, np.linalg.inv(RGB_TO_LMS)) * 255.0).reshape(shape)


def colour_transfer(source: np.ndarray, target: np.ndarray, weight: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """uint8 `source` recoloured towards `target`'s mean and std in l-alpha-beta, over `weight` (H, W).

    Reinhard et al. 2001; `strength` < 1 stops short, leaving the colour mismatch of a hurried swap.
    """
    w = weight.reshape(-1, 1).astype(np.float64)
    w = w / max(w.sum(), 1e-6)
    src, dst = _to_lab(source), _to_lab(target)
    src_mean, dst_mean = (w * src).sum(0), (w * dst).sum(0)
    src_std = np.sqrt((w * (src - src_mean) ** 2).sum(0)) + 1e-6
    dst_std = np.sqrt((w * (dst - dst_mean) ** 2).sum(0)) + 1e-6
    # Spectacles or a dark background inside one mask and not the other inflate its std; an unclipped
    # ratio then blows up the contrast of the pasted face. Mean matching does most of the colour work.
    matched = (src - src_mean) * np.clip(dst_std / src_std, *STD_RATIO) + dst_mean
    out = _from_lab(src + strength * (matched - src), source.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def apply_cross_blend(
    target: np.ndarray, target_landmarks: np.ndarray, source: np.ndarray, source_landmarks: np.ndarray, params: BlendParams
) -> BlendResult:
    """Blend the `source` face into `target` with the drawn `params` (see `cross_blend`)."""
    _check_image(target, "target")
    _check_image(source, "source")
    align = similarity_matrix(target_landmarks, source_landmarks)  # target pixels -> source pixels
    aligned = warp_face(source, target_landmarks, params.jitter, source_matrix=align)
    mask = face_mask(target.shape[0], target.shape[1], target_landmarks, params.mask)
    aligned = colour_transfer(aligned, target, mask, params.colour_transfer)
    aligned = retouch(aligned, target_landmarks, params.jitter)
    mask = mask * np.float32(params.ratio)
    return BlendResult(blend(target, aligned, mask), mask)


def cross_blend(
    target: np.ndarray,
    target_landmarks: np.ndarray,
    source: np.ndarray,
    source_landmarks: np.ndarray,
    rng: np.random.Generator,
    *,
    config: BlendConfig = BlendConfig(),
) -> BlendResult:
    """Another identity's face blended into `target` (Face X-ray, Li et al. 2020).

    The source face is aligned by a similarity transform of the five landmarks, jittered, colour
    transferred towards the target (Reinhard, random strength) and blended through the same kind of
    soft mask as `self_blend`.

    Args:
        target: uint8 (H, W, 3) RGB, the face that keeps its background, hair and outline.
        target_landmarks: (5, 2) landmarks in `target` pixels.
        source: uint8 (H', W', 3) RGB, the face pasted in.
        source_landmarks: (5, 2) landmarks in `source` pixels.
        rng: source of all randomness.
        config: parameter ranges.
    """
    params = draw_blend_params(rng, config)
    return apply_cross_blend(target, target_landmarks, source, source_landmarks, params)
