"""Soft blending masks built from MTCNN's five face landmarks.

Self-blended images (Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images", CVPR 2022)
take the convex hull of 68/81 landmarks, deform it, erode or dilate it and blur it twice with random
kernels. We only have five points (eyes, nose, mouth corners), so the region is grown from them in a
face-aligned frame: eyes lifted to the brows, the mouth lowered to the chin, then a hull or an ellipse,
randomly dilated and wobbled, rasterised and feathered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

N_BOUNDARY = 96  # points on the mask outline before rasterising
N_HARMONICS = 4  # low-frequency wobble of the outline, harmonics 2..N_HARMONICS+1


@dataclass(frozen=True)
class FaceFrame:
    """A face-aligned frame from five landmarks; lengths in image pixels."""

    eye_mid: np.ndarray  # float64 (2,) midpoint of the eyes, x, y
    mouth_mid: np.ndarray  # float64 (2,) midpoint of the mouth corners, x, y
    across: np.ndarray  # float64 (2,) unit vector from the left eye to the right eye
    down: np.ndarray  # float64 (2,) unit vector perpendicular to `across`, towards the mouth
    eye_dist: float  # distance between the eyes
    eye_mouth: float  # distance from the eye midpoint to the mouth midpoint along `down`

    def to_image(self, uv: np.ndarray) -> np.ndarray:
        """Map (K, 2) face coordinates (u in eye distances, v in eye-mouth distances) to image pixels."""
        uv = np.asarray(uv, np.float64)
        return self.eye_mid + uv[:, :1] * self.eye_dist * self.across + uv[:, 1:] * self.eye_mouth * self.down


def face_frame(landmarks: np.ndarray) -> FaceFrame:
    """Build the face frame of (5, 2) landmarks: left eye, right eye, nose, left and right mouth corner."""
    lm = np.asarray(landmarks, np.float64)
    if lm.shape != (5, 2) or not np.all(np.isfinite(lm)):
        raise ValueError(f"landmarks must be finite (5, 2) x, y points, got shape {lm.shape}")
    eye_mid, mouth_mid = lm[:2].mean(0), lm[3:].mean(0)
    eye_dist = max(float(np.linalg.norm(lm[1] - lm[0])), 1e-3)
    across = (lm[1] - lm[0]) / eye_dist
    down = np.array([-across[1], across[0]])
    if np.dot(mouth_mid - eye_mid, down) < 0:  # mirrored landmarks: keep `down` towards the mouth
        down = -down
    eye_mouth = max(float(np.dot(mouth_mid - eye_mid, down)), 0.3 * eye_dist)
    return FaceFrame(eye_mid, mouth_mid, across, down, eye_dist, eye_mouth)


@dataclass(frozen=True)
class MaskConfig:
    """Ranges the mask parameters are drawn from (uniform unless said otherwise)."""

    shapes: tuple[str, ...] = ("hull", "hull", "ellipse")  # drawn uniformly; repeats weight the choice
    dilate: tuple[float, float] = (0.9, 1.15)  # scale of the region about its centre
    brow_lift: tuple[float, float] = (0.25, 0.65)  # eye-mouth distances the brows sit above the eyes
    chin_drop: tuple[float, float] = (0.35, 0.8)  # eye-mouth distances the chin sits below the mouth
    cheek: tuple[float, float] = (0.15, 0.55)  # eye distances the cheeks reach beyond the eye centres
    wobble: float = 0.03  # largest amplitude of each outline harmonic, fraction of the radius
    erode_blur: tuple[float, float] = (0.01, 0.05)  # sigma of the first feathering pass, eye distances
    edge_blur: tuple[float, float] = (0.02, 0.12)  # sigma of the second feathering pass, eye distances


@dataclass(frozen=True)
class MaskParams:
    """One draw of the random mask parameters; apply to any face with `face_mask`."""

    shape: str  # "hull" or "ellipse"
    dilate: float
    brow_lift: float
    chin_drop: float
    cheek: float
    harmonics: np.ndarray  # float64 (N_HARMONICS, 2) amplitude, phase of harmonics 2, 3, ...
    blur: tuple[float, float]  # sigmas of the two passes, eye distances


def draw_mask_params(rng: np.random.Generator, config: MaskConfig = MaskConfig()) -> MaskParams:
    """Draw mask parameters from `config` with `rng`."""
    amplitude = rng.uniform(0.0, config.wobble, N_HARMONICS)
    phase = rng.uniform(0.0, 2 * np.pi, N_HARMONICS)
    return MaskParams(
        shape=str(config.shapes[rng.integers(len(config.shapes))]),
        dilate=float(rng.uniform(*config.dilate)),
        brow_lift=float(rng.uniform(*config.brow_lift)),
        chin_drop=float(rng.uniform(*config.chin_drop)),
        cheek=float(rng.uniform(*config.cheek)),
        harmonics=np.stack([amplitude, phase], axis=1),
        blur=(float(rng.uniform(*config.erode_blur)), float(rng.uniform(*config.edge_blur))),
    )


def _hull_outline(params: MaskParams) -> np.ndarray:
    """(K, 2) face coordinates of a polygon through brows, cheeks, jaw and chin around the five points."""
    half, top, drop = 0.5 + params.cheek, -params.brow_lift, params.chin_drop
    jaw, chin = 0.8 * half, 0.35 * half
    return np.array([
        [-half, top], [-0.4 * half, top - 0.1], [0.4 * half, top - 0.1], [half, top],  # brows, arched
        [half, 0.55], [jaw, 1.0 + 0.6 * drop], [chin, 1.0 + drop],  # right cheek, jaw, chin
        [-chin, 1.0 + drop], [-jaw, 1.0 + 0.6 * drop], [-half, 0.55],  # chin, left jaw, left cheek
    ])


def _ellipse_outline(params: MaskParams) -> np.ndarray:
    """(K, 2) face coordinates of an ellipse from the brows to the chin."""
    top, bottom = -params.brow_lift, 1.0 + params.chin_drop
    angle = np.linspace(0.0, 2 * np.pi, N_BOUNDARY, endpoint=False)
    return np.stack([(0.5 + params.cheek) * np.cos(angle), (top + bottom) / 2 + (bottom - top) / 2 * np.sin(angle)], 1)


def _densify(polygon: np.ndarray, n: int = N_BOUNDARY) -> np.ndarray:
    """Resample a closed polygon to `n` points evenly spaced along its perimeter."""
    closed = np.vstack([polygon, polygon[:1]])
    cumulative = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(closed, axis=0), axis=1))])
    at = np.linspace(0.0, cumulative[-1], n, endpoint=False)
    return np.stack([np.interp(at, cumulative, closed[:, k]) for k in range(2)], 1)


def _wobble(points: np.ndarray, centre: np.ndarray, params: MaskParams) -> np.ndarray:
    """Dilate the outline about `centre` and deform it radially with low-frequency harmonics."""
    offset = points - centre
    angle = np.arctan2(offset[:, 1], offset[:, 0])
    k = np.arange(2, 2 + len(params.harmonics))[:, None]
    radial = 1.0 + np.sum(params.harmonics[:, :1] * np.cos(k * angle + params.harmonics[:, 1:]), axis=0)
    return centre + offset * (params.dilate * radial)[:, None]


def mask_outline(landmarks: np.ndarray, params: MaskParams) -> np.ndarray:
    """float64 (K, 2) outline of the mask region in image pixels."""
    frame = face_frame(landmarks)
    shape = _ellipse_outline(params) if params.shape == "ellipse" else _densify(_hull_outline(params))
    outline = frame.to_image(shape)
    centre = frame.to_image(np.array([[0.0, 0.5 + (params.chin_drop - params.brow_lift) / 2]]))[0]
    return _wobble(outline, centre, params)


def _rasterise(outline: np.ndarray, height: int, width: int) -> np.ndarray:
    """float32 (H, W) 1 inside the polygon, 0 outside."""
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in outline.tolist()], fill=255)
    return np.asarray(canvas, np.float32) / 255.0


def feather(hard: np.ndarray, sigmas_px: tuple[float, float]) -> np.ndarray:
    """SBI's two-pass soft edge: blur, keep only what stayed fully inside, blur again.

    The first pass followed by the threshold erodes the region by about two sigmas, so the soft edge of
    the second pass stays inside the original outline (Shiohara & Yamasaki 2022, `get_blend_mask`).
    """
    soft = ndimage.gaussian_filter(hard, sigmas_px[0])
    soft = np.where(soft > 1.0 - 1e-3, 1.0, 0.0).astype(np.float32)
    soft = ndimage.gaussian_filter(soft, sigmas_px[1])
    return np.clip(soft, 0.0, 1.0).astype(np.float32)


def face_mask(height: int, width: int, landmarks: np.ndarray, params: MaskParams) -> np.ndarray:
    """float32 (H, W) soft mask in [0, 1] over the face region of `landmarks` (image pixels)."""
    eye_dist = face_frame(landmarks).eye_dist
    hard = _rasterise(mask_outline(landmarks, params), height, width)
    return feather(hard, (params.blur[0] * eye_dist, params.blur[1] * eye_dist))


# The lips and the jaw below them in face coordinates: centre and half-axes of an ellipse from the upper lip
# (the nose tip sits near v 0.6) to the chin, a little wider than the mouth corners (u +-0.4 to 0.45).
MOUTH_CENTRE, MOUTH_HALF_AXES = (0.0, 1.15), (0.55, 0.45)
MOUTH_EDGE_BLUR = 0.08  # sigma of its soft edge, eye distances


def mouth_mask(height: int, width: int, landmarks: np.ndarray) -> np.ndarray:
    """float32 (H, W) soft mask in [0, 1] over the lips and the jaw below them (the part of a face that moves
    with speech), from the five landmarks (image pixels)."""
    frame = face_frame(landmarks)
    angle = np.linspace(0.0, 2 * np.pi, N_BOUNDARY, endpoint=False)
    ellipse = np.stack([MOUTH_CENTRE[0] + MOUTH_HALF_AXES[0] * np.cos(angle),
                        MOUTH_CENTRE[1] + MOUTH_HALF_AXES[1] * np.sin(angle)], 1)
    hard = _rasterise(frame.to_image(ellipse), height, width)
    return np.clip(ndimage.gaussian_filter(hard, MOUTH_EDGE_BLUR * frame.eye_dist), 0.0, 1.0).astype(np.float32)
