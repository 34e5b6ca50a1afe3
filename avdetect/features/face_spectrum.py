"""Frequency and noise cues of the main face against its surroundings (issue 12).

A camera leaves one noise level and one spectrum over the whole frame; a generated or blended face was
made at another resolution, upsampled and smoothed, so its high frequencies and its noise residual differ
from the hair, neck and background around it (Durall et al., "Watch your up-convolution", CVPR 2020;
Frank et al., "Leveraging frequency analysis for deep fake image recognition", ICML 2020). Every number is
also measured on the ring outside the face in the same crop, whose resampling and compression were the
same, and their log-ratio is the part that survives JPEG and downscaling.

Measured on the sparse face crops (S x S RGB, margin a third of the face on each side): 32 x 32 tiles at a
stride of 16, Hann-windowed, whose power spectra are averaged over the tiles inside the face box and over
those in the ring (outside the box, inside the frame). The noise residual is the image minus its 3 x 3
median. Per-frame numbers are summarised over the track by their median and, for the variation over
time, their coefficient of variation.
"""

from __future__ import annotations

import warnings

import numpy as np

from avdetect.features.face_motion import main_track
from avdetect.records import FaceTrack, Perception

TILE, STRIDE = 32, 16  # pixels of the crop
HF_BIN = 8  # radial frequency bin (cycles per tile) from which power counts as high: 0.25 cycles/pixel
SLOPE_BINS = (2, 15)  # radial bins the log-log spectrum slope is fitted over
MAX_FRAMES = 16  # frames of the track measured, evenly spread (the crops are a few per second anyway)
FRAME_NAMES = ("face_hf", "ring_hf", "face_slope", "ring_slope", "noise_face", "noise_ring",
               "resid_face_slope", "resid_ring_slope", "resid_face_peak", "resid_ring_peak")
NAMES = tuple(f"face_spectrum_{n}" for n in (
    *FRAME_NAMES, "hf_log_ratio", "slope_diff", "noise_log_ratio", "resid_slope_diff",
    "noise_face_tcv", "face_hf_tcv", "noise_log_ratio_tstd"))
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601
IMMERKAER = np.array([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def face_spectrum_features(perception: Perception) -> np.ndarray:
    """float64 (len(NAMES),) spectrum and noise cues of the main face track; NaN without a face."""
    track = main_track(perception)
    if track is None or len(track) == 0:
        return np.full(len(NAMES), np.nan)
    picks = np.unique(np.round(np.linspace(0, len(track) - 1, min(len(track), MAX_FRAMES))).astype(int))
    rows = np.array([frame_stats(track.crops[i], face_box_in_crop(track, i)) for i in picks])
    return summarise(rows)


def face_box_in_crop(track: FaceTrack, i: int) -> np.ndarray:
    """float64 (4,) the face box of frame `i` in crop pixels."""
    crop_box = track.crop_boxes[i].astype(np.float64)
    scale = track.crops.shape[1] / max(crop_box[2] - crop_box[0], 1e-6)
    return (track.boxes[i].astype(np.float64) - np.tile(crop_box[:2], 2)) * scale


def summarise(rows: np.ndarray) -> np.ndarray:
    """The block from per-frame rows (n, len(FRAME_NAMES)): medians, log-ratios, variation over time."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a column without a finite value gives NaN, as meant
        med = np.nanmedian(rows, axis=0) if np.isfinite(rows).any() else np.full(rows.shape[1], np.nan)
        col = dict(zip(FRAME_NAMES, med))
        noise_ratio = np.log(rows[:, 4] / rows[:, 5])
        ratio_std = np.nanstd(noise_ratio) if np.isfinite(noise_ratio).any() else np.nan
        extra = [np.log(col["face_hf"] / col["ring_hf"]), col["face_slope"] - col["ring_slope"],
                 np.log(col["noise_face"] / col["noise_ring"]), col["resid_face_slope"] - col["resid_ring_slope"],
                 _tcv(rows[:, 4]), _tcv(rows[:, 0]), ratio_std]
    return np.concatenate([med, extra]).astype(np.float64)


def _tcv(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    return float(np.std(x) / np.mean(x)) if len(x) >= 2 and np.mean(x) > 0 else np.nan


def frame_stats(crop: np.ndarray, face_box: np.ndarray) -> np.ndarray:
    """float64 (len(FRAME_NAMES),) of one RGB crop uint8 (S, S, 3) with its face box in crop pixels."""
    gray = crop.astype(np.float64) @ LUMA_WEIGHTS
    residual = noise_residual(gray)
    face, ring = tile_masks(crop, face_box)
    image_face, image_ring = region_spectrum(gray, face), region_spectrum(gray, ring)
    res_face, res_ring = region_spectrum(residual, face), region_spectrum(residual, ring)
    return np.array([hf_share(image_face), hf_share(image_ring), spectrum_slope(image_face),
                     spectrum_slope(image_ring), noise_level(gray, face), noise_level(gray, ring),
                     spectrum_slope(res_face), spectrum_slope(res_ring), peakiness(res_face), peakiness(res_ring)])


def noise_residual(gray: np.ndarray) -> np.ndarray:
    """float64 (H, W) the image minus its 3 x 3 median: sensor noise and fine texture, edges mostly removed."""
    from scipy.ndimage import median_filter  # scipy is heavy to import; only here

    return gray - median_filter(gray, size=3, mode="reflect")


def tile_origins(size: int) -> np.ndarray:
    """int (n,) the top-left corners of the tiles along one side."""
    return np.arange(0, size - TILE + 1, STRIDE)


def tile_masks(crop: np.ndarray, face_box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """bool (n, n) tiles inside the (slightly shrunk) face box, and tiles of the ring: outside the
    (slightly grown) box with no pixel outside the frame (crops are black there)."""
    origins = tile_origins(crop.shape[0])
    x0, y0 = origins[None, :], origins[:, None]
    x1, y1, x2, y2 = face_box
    pad_x, pad_y = 0.05 * (x2 - x1), 0.05 * (y2 - y1)
    inside = (x0 >= x1 + pad_x) & (x0 + TILE <= x2 - pad_x) & (y0 >= y1 + pad_y) & (y0 + TILE <= y2 - pad_y)
    overlaps = (x0 < x2 + pad_x) & (x0 + TILE > x1 - pad_x) & (y0 < y2 + pad_y) & (y0 + TILE > y1 - pad_y)
    black = np.all(crop == 0, axis=2)
    tiles_black = np.lib.stride_tricks.sliding_window_view(black, (TILE, TILE))[::STRIDE, ::STRIDE].any(axis=(2, 3))
    return inside, ~overlaps & ~tiles_black


def region_spectrum(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float64 (TILE, TILE) mean power spectrum of the Hann-windowed, mean-removed tiles in `mask`;
    NaN-filled when the region has no tile."""
    if not mask.any():
        return np.full((TILE, TILE), np.nan)
    tiles = np.lib.stride_tricks.sliding_window_view(image, (TILE, TILE))[::STRIDE, ::STRIDE][mask]
    tiles = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    window = np.outer(np.hanning(TILE), np.hanning(TILE))
    return np.mean(np.abs(np.fft.fft2(tiles * window)) ** 2, axis=0)


def radial_profile(power: np.ndarray) -> np.ndarray:
    """float64 (TILE // 2 + 1,) the power averaged over rings of equal spatial frequency (azimuthal mean)."""
    k = np.fft.fftfreq(TILE) * TILE
    radius = np.rint(np.hypot(k[None, :], k[:, None])).astype(int)
    keep = radius <= TILE // 2
    sums = np.bincount(radius[keep], weights=power[keep], minlength=TILE // 2 + 1)
    counts = np.bincount(radius[keep], minlength=TILE // 2 + 1)
    return sums / np.maximum(counts, 1)


def hf_share(power: np.ndarray) -> float:
    """Share of the (non-DC) power at or above `HF_BIN`; NaN for an empty or flat region."""
    profile = radial_profile(power)
    total = np.sum(profile[1:])
    return float(np.sum(profile[HF_BIN:]) / total) if np.isfinite(total) and total > 1e-12 else np.nan


def spectrum_slope(power: np.ndarray) -> float:
    """Slope of log power against log frequency over `SLOPE_BINS` (about -2 to -3 for natural images)."""
    profile = radial_profile(power)
    bins = np.arange(SLOPE_BINS[0], SLOPE_BINS[1] + 1)
    values = profile[bins]
    if not np.all(np.isfinite(values)) or np.any(values <= 0):
        return np.nan
    return float(np.polyfit(np.log(bins), np.log(values), 1)[0])


def peakiness(power: np.ndarray) -> float:
    """Largest high-frequency bin of the 2-D spectrum over their median: upsampling leaves periodic peaks."""
    k = np.fft.fftfreq(TILE) * TILE
    high = np.hypot(k[None, :], k[:, None]) >= HF_BIN
    values = power[high]
    if not np.all(np.isfinite(values)) or np.median(values) <= 0:
        return np.nan
    return float(np.log(values.max() / np.median(values)))


def noise_level(gray: np.ndarray, mask: np.ndarray) -> float:
    """Noise standard deviation over the tiles in `mask` by Immerkaer's estimator ("Fast noise variance
    estimation", CVIU 1996: the mean absolute response of a mask blind to ramps); NaN without a tile."""
    from scipy.ndimage import convolve  # scipy is heavy to import; only here

    if not mask.any():
        return np.nan
    response = np.abs(convolve(gray, IMMERKAER, mode="reflect"))
    tiles = np.lib.stride_tricks.sliding_window_view(response, (TILE, TILE))[::STRIDE, ::STRIDE][mask]
    return max(float(np.sqrt(np.pi / 2) / 6 * tiles.mean()), 1e-3)  # floor: log-ratios stay finite
