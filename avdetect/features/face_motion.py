"""Temporal cues along the main face track (issue 12): head pose, head motion, flicker, blinks.

Talking-head generators get time wrong in ways a single frame does not show: a head animated from a photo
moves too smoothly or too little, frame-by-frame generation jitters, a swapped or re-rendered face flickers
against its unchanged surroundings, and eyes blink too rarely or never (Li et al., "In Ictu Oculi", 2018).

Two sources, at two rates:
- the sparse `FaceTrack` (32 frames over the clip; MTCNN ran on about a quarter of them): head pose from
  the five landmarks, read on detected frames only (interpolated ones carry no information);
- the `DenseFaceTrack` (every decoded frame of the first seconds, 64 px luma crops): head motion measured
  by phase correlation between consecutive crops plus the box's own motion, motion-compensated texture
  change inside the face and in the ring around it, and an eye-region signal for blinks.

The main track is the longest; the row is NaN without a face, and the dense part NaN without dense crops
(caches made before `Perception.dense_faces` existed).
"""

from __future__ import annotations

import numpy as np

from avdetect.records import DenseFaceTrack, FaceTrack, Perception

POSE_NAMES = ("pose_roll_std", "pose_yaw_std", "pose_pitch_std", "pose_roll_speed", "pose_yaw_speed",
              "pose_pitch_speed", "face_shape_cv", "face_size_cv")
DENSE_NAMES = ("motion_speed_median", "motion_speed_p90", "motion_hf_share", "motion_jerk_ratio",
               "flicker_upper", "flicker_lower", "flicker_ring", "flicker_face_ring_log", "flicker_lower_upper_log",
               "face_ring_luma_jitter", "blink_rate_per_min", "eye_spike", "eye_var")
NAMES = tuple(f"face_motion_{n}" for n in (*POSE_NAMES, *DENSE_NAMES))

HF_CUTOFF_HZ = 4.0  # head translation above this is jitter: natural head motion lives below ~2 Hz
MIN_DENSE_FPS = 10.0  # slower dense frames cannot resolve the motion spectrum or a blink
MIN_DENSE_FRAMES = 8  # fewer dense frames give no motion statistics worth the name
BLINK_Z = 3.5  # robust z-score of the eye signal above which a frame is "eye closing"
BLINK_MIN_RISE = 0.15  # of the eye regions' luma contrast: the least brightening a closing lid makes
BLINK_MAX_S = 0.5  # a blink lasts 0.1-0.4 s; a longer brightening of the eyes is something else
DENSE_MARGIN = 0.25  # the margin `perception.faces.dense_face_tracks` cut the crops with


def face_motion_features(perception: Perception) -> np.ndarray:
    """float64 (len(NAMES),) temporal cues of the main face track; NaN without a face."""
    track = main_track(perception)
    if track is None:
        return np.full(len(NAMES), np.nan)
    return np.concatenate([pose_features(track), dense_features(track_dense(perception, track))])


def main_track(perception: Perception) -> FaceTrack | None:
    """The longest face track (ties: the first, i.e. the biggest face); None without faces."""
    tracks = perception.faces.tracks
    return max(tracks, key=len) if tracks else None


def track_dense(perception: Perception, track: FaceTrack) -> DenseFaceTrack | None:
    """The dense crops of `track`; None when the perception has none (caches made before them)."""
    return next((d for d in perception.dense_faces if d.track_id == track.track_id), None)


def dense_fps(dense: DenseFaceTrack | None) -> float | None:
    """Frames per second of the dense crops; None when they are too few or too slow to measure motion on."""
    if dense is None or len(dense.times_s) < MIN_DENSE_FRAMES:
        return None
    fps = 1.0 / float(np.median(np.diff(dense.times_s)))
    return fps if fps >= MIN_DENSE_FPS else None


# Head pose from the five landmarks (left eye, right eye, nose, left and right mouth corners).

def pose_angles(landmarks: np.ndarray) -> np.ndarray:
    """float64 (T, 3) roll (radians), yaw and pitch proxies (dimensionless) of landmarks (T, 5, 2).

    Roll is the eye line's angle. In the eye line's frame, yaw is the nose's sideways offset from the eye
    midpoint over the eye distance, and pitch the nose's depth between the eye line and the mouth line.
    """
    pts = landmarks.astype(np.float64)
    eye_mid, mouth_mid = (pts[:, 0] + pts[:, 1]) / 2, (pts[:, 3] + pts[:, 4]) / 2
    axis = pts[:, 1] - pts[:, 0]
    iod = np.maximum(np.linalg.norm(axis, axis=1), 1e-6)
    ux = axis / iod[:, None]
    uy = np.stack([-ux[:, 1], ux[:, 0]], axis=1)
    nose = pts[:, 2] - eye_mid
    mouth_depth = np.maximum(np.sum((mouth_mid - eye_mid) * uy, axis=1), 1e-6)
    roll = np.arctan2(axis[:, 1], axis[:, 0])
    return np.stack([roll, np.sum(nose * ux, axis=1) / iod, np.sum(nose * uy, axis=1) / mouth_depth], axis=1)


def pose_features(track: FaceTrack) -> np.ndarray:
    """float64 (len(POSE_NAMES),): spread and speed (per second) of the pose, spread of shape and size."""
    keep = track.detected  # interpolated frames would add straight lines between detections
    if keep.sum() < 3:
        return np.full(len(POSE_NAMES), np.nan)
    angles, times = pose_angles(track.landmarks[keep]), track.times_s[keep]
    dt = np.maximum(np.diff(times), 1e-3)[:, None]
    speed = np.median(np.abs(np.diff(angles, axis=0)) / dt, axis=0)
    iod = np.linalg.norm(track.landmarks[keep, 1] - track.landmarks[keep, 0], axis=1)
    size = track.face_size[keep].astype(np.float64)
    return np.concatenate([angles.std(axis=0), speed, [_cv(iod / np.maximum(size, 1e-6)), _cv(size)]])


def _cv(x: np.ndarray) -> float:
    return float(np.std(x) / max(abs(float(np.mean(x))), 1e-9))


# Dense crops: motion, flicker, blinks.

def dense_features(dense: DenseFaceTrack | None) -> np.ndarray:
    """float64 (len(DENSE_NAMES),); NaN without dense crops or when they are too few or too slow."""
    fps = dense_fps(dense)
    if fps is None:
        return np.full(len(DENSE_NAMES), np.nan)
    crops = dense.crops.astype(np.float64)
    shifts = crop_shifts(crops)
    velocity = head_velocity(dense, shifts) * fps
    return np.concatenate([motion_stats(velocity, fps), flicker_stats(dense, crops, shifts),
                           blink_stats(dense, crops, fps)])


def crop_shifts(crops: np.ndarray) -> np.ndarray:
    """float64 (F-1, 2) x, y displacement (crop pixels) of the content from each crop to the next.

    Phase correlation (Kuglin & Hines 1975) on Hann-windowed crops, with the cross-power spectrum only
    half-whitened (full whitening lets noisy high frequencies move the peak by ~0.2 px on a still face),
    refined to sub-pixel by a parabola through the peak and its neighbours.
    """
    n, size = crops.shape[0], crops.shape[1]
    window = np.outer(np.hanning(size), np.hanning(size))
    spectra = np.fft.fft2((crops - crops.mean(axis=(1, 2), keepdims=True)) * window)
    cross = spectra[1:] * np.conj(spectra[:-1])
    corr = np.fft.ifft2(cross / np.sqrt(np.maximum(np.abs(cross), 1e-9))).real  # half-whitened: noise-robust
    flat = corr.reshape(n - 1, -1).argmax(axis=1)
    py, px = np.unravel_index(flat, (size, size))
    rows = np.arange(n - 1)
    dx = px + _parabola(corr[rows, py, (px - 1) % size], corr[rows, py, px], corr[rows, py, (px + 1) % size])
    dy = py + _parabola(corr[rows, (py - 1) % size, px], corr[rows, py, px], corr[rows, (py + 1) % size, px])
    return (np.stack([dx, dy], axis=1) + size / 2) % size - size / 2  # wrap to [-size/2, size/2)


def _parabola(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Sub-sample offset of a peak from three samples around it, in [-0.5, 0.5]."""
    denom = left - 2 * centre + right
    offset = np.where(np.abs(denom) > 1e-12, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    return np.clip(offset, -0.5, 0.5)


def head_velocity(dense: DenseFaceTrack, shifts: np.ndarray) -> np.ndarray:
    """float64 (F-1, 2) head displacement per frame in face sizes: the box's motion plus the content's."""
    side = (dense.boxes[:, 2] - dense.boxes[:, 0]).astype(np.float64)
    centre = (dense.boxes[:, :2] + dense.boxes[:, 2:]).astype(np.float64) / 2
    size = dense.crops.shape[1]
    moved = np.diff(centre, axis=0) + shifts * side[:-1, None] / size  # luma pixels
    face = side[:-1, None] / (1 + 2 * DENSE_MARGIN)
    return moved / np.maximum(face, 1e-6)


def high_freq_share(velocity: np.ndarray, fps: float, cutoff_hz: float = HF_CUTOFF_HZ) -> float:
    """Share of the velocity's power (both axes, mean removed) above `cutoff_hz`; NaN for a still head."""
    v = velocity - velocity.mean(axis=0)
    power = np.sum(np.abs(np.fft.rfft(v, axis=0)) ** 2, axis=1)
    freqs = np.fft.rfftfreq(len(v), 1.0 / fps)
    total = power[1:].sum()
    return float(power[freqs >= cutoff_hz].sum() / total) if total > 1e-12 else np.nan


def motion_stats(velocity: np.ndarray, fps: float) -> np.ndarray:
    """Median and 90th percentile speed (face sizes/s), high-frequency share, jerk over speed."""
    speed = np.linalg.norm(velocity, axis=1)
    jerk = np.linalg.norm(np.diff(velocity, axis=0), axis=1) * fps
    ratio = np.median(jerk) / max(np.median(speed) * fps, 1e-9)
    return np.array([np.median(speed), np.percentile(speed, 90), high_freq_share(velocity, fps), ratio])


def face_regions(dense: DenseFaceTrack) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bool (F, S, S) masks: upper face (above the nose), lower face, and the ring inside the frame."""
    size = dense.crops.shape[1]
    inner = DENSE_MARGIN / (1 + 2 * DENSE_MARGIN) * size
    grid = np.arange(size) + 0.5
    in_face, near_face = (grid >= inner) & (grid <= size - inner), (grid >= inner - 1) & (grid <= size - inner + 1)
    face = in_face[None, :, None] & in_face[None, None, :]
    nose_y = dense.landmarks[:, 2, 1][:, None, None]
    upper = face & (grid[None, :, None] < nose_y)
    ring = ~(near_face[None, :, None] & near_face[None, None, :]) & inside_frame(dense)
    return upper, face & ~upper, ring


def inside_frame(dense: DenseFaceTrack) -> np.ndarray:
    """bool (F, S, S): crop pixels that came from inside the luma frame (all True when its size is unknown)."""
    n, size = dense.crops.shape[:2]
    h, w = dense.luma_hw
    if h == 0 or w == 0:
        return np.ones((n, size, size), bool)
    frac = (np.arange(size) + 0.5) / size
    xs = dense.boxes[:, 0, None] + frac[None] * (dense.boxes[:, 2] - dense.boxes[:, 0])[:, None]
    ys = dense.boxes[:, 1, None] + frac[None] * (dense.boxes[:, 3] - dense.boxes[:, 1])[:, None]
    return ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]


def compensated_change(crops: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """float64 (F-1, S, S) |next crop - this crop moved by the measured shift| (Fourier shift)."""
    size = crops.shape[1]
    k = np.fft.fftfreq(size)
    phase = shifts[:, 0, None, None] * k[None, None, :] + shifts[:, 1, None, None] * k[None, :, None]
    ramp = np.exp(-2j * np.pi * phase)
    moved = np.fft.ifft2(np.fft.fft2(crops[:-1]) * ramp).real
    return np.abs(crops[1:] - moved)


def flicker_stats(dense: DenseFaceTrack, crops: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Texture change after motion, over local contrast, in the upper face, lower face and ring; their
    log-ratios; and the jitter of the face's brightness against the ring's."""
    change = compensated_change(crops, shifts)[:, 2:-2, 2:-2]  # the Fourier shift wraps at the border
    gy, gx = np.gradient(crops[:-1], axis=(1, 2))
    contrast = np.hypot(gx, gy)[:, 2:-2, 2:-2]
    upper, lower, ring = (m[:-1, 2:-2, 2:-2] for m in face_regions(dense))
    level = [_masked_ratio(change, contrast, m) for m in (upper, lower, ring)]
    face_mean = _masked_means(crops[:-1, 2:-2, 2:-2], upper | lower)
    ring_mean = _masked_means(crops[:-1, 2:-2, 2:-2], ring)
    gap = face_mean - ring_mean
    jitter = np.std(np.diff(gap)) / max(float(np.std(crops)), 1e-6) if np.isfinite(gap).all() else np.nan
    face = np.nanmean(level[:2])
    return np.array([*level, np.log(face / level[2]), np.log(level[1] / level[0]), jitter])


def _masked_ratio(change: np.ndarray, contrast: np.ndarray, mask: np.ndarray) -> float:
    """Median over frames of mean change / (mean contrast + 1) in the mask; NaN when it is empty."""
    mask = np.broadcast_to(mask, change.shape)
    count = mask.sum(axis=(1, 2))
    good = count > 0
    if not good.any():
        return np.nan
    ratio = (change * mask).sum(axis=(1, 2))[good] / ((contrast * mask).sum(axis=(1, 2))[good] + count[good])
    return float(np.median(ratio))


def _masked_means(crops: np.ndarray, mask: np.ndarray) -> np.ndarray:
    mask = np.broadcast_to(mask, crops.shape)
    count = mask.sum(axis=(1, 2))
    return np.where(count > 0, (crops * mask).sum(axis=(1, 2)) / np.maximum(count, 1), np.nan)


def eye_signal(dense: DenseFaceTrack, crops: np.ndarray) -> tuple[np.ndarray, float]:
    """float64 (F,) mean luma of both eye regions minus the face's (a closing lid covers the dark eye), and
    the eye regions' contrast (median over frames of their luma's standard deviation)."""
    marks = dense.landmarks.astype(np.float64)
    iod = np.maximum(np.linalg.norm(marks[:, 1] - marks[:, 0], axis=1), 1.0)
    grid = np.arange(crops.shape[1]) + 0.5
    eyes = np.zeros(crops.shape, bool)
    for k in (0, 1):
        near_x = np.abs(grid[None, None, :] - marks[:, k, 0, None, None]) <= 0.3 * iod[:, None, None]
        near_y = np.abs(grid[None, :, None] - marks[:, k, 1, None, None]) <= 0.15 * iod[:, None, None]
        eyes |= near_x & near_y
    upper, lower, _ = face_regions(dense)
    eye_mean = _masked_means(crops, eyes)
    spread = np.sqrt(np.maximum(_masked_means(crops**2, eyes) - eye_mean**2, 0))
    face = np.broadcast_to(upper | lower, crops.shape)
    return eye_mean - _masked_means(crops, face), float(np.nanmedian(spread)) if np.isfinite(spread).any() else np.nan


def blink_stats(dense: DenseFaceTrack, crops: np.ndarray, fps: float) -> np.ndarray:
    """Blinks per minute, the eye signal's largest robust z-score, and its spread over the face contrast.

    A blink is a brief rise of the eye signal that is both unusual (robust z above `BLINK_Z`) and large
    against the eyes' own contrast (`BLINK_MIN_RISE`), so a still face's noise never counts as one.
    """
    signal, contrast = eye_signal(dense, crops)
    if not np.isfinite(signal).all() or not np.isfinite(contrast):
        return np.full(3, np.nan)
    rise = signal - _running_median(signal, max(3, int(round(fps)) | 1))
    z = robust_z(rise)
    count = count_blinks(np.where(rise > BLINK_MIN_RISE * contrast, z, 0.0), fps)
    minutes = len(signal) / fps / 60
    return np.array([count / minutes, float(z.max()), float(np.std(signal) / max(np.std(crops), 1e-6))])


def robust_z(x: np.ndarray) -> np.ndarray:
    """(x - median) / (1.4826 MAD), with the MAD floored so a flat signal gives zeros, not infinities."""
    centred = x - np.median(x)
    mad = 1.4826 * np.median(np.abs(centred))
    return centred / max(mad, 1e-3 * max(float(np.abs(centred).max()), 1e-6), 1e-6)


def count_blinks(z: np.ndarray, fps: float, *, threshold: float = BLINK_Z, max_s: float = BLINK_MAX_S) -> int:
    """Runs of frames with z above `threshold` lasting at most `max_s` seconds."""
    above = np.concatenate([[False], z > threshold, [False]])
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    lengths = edges[1::2] - edges[::2]
    return int(np.sum(lengths <= max(1, int(round(max_s * fps)))))


def _running_median(x: np.ndarray, width: int) -> np.ndarray:
    pad = width // 2
    padded = np.pad(x, pad, mode="edge")
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, width), axis=1)
