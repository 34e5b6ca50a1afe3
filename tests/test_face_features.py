"""The temporal (face_motion, face_drift) and frequency (face_spectrum) face feature blocks on synthetic
tracks whose answers are known, the dense face crops they read, and their registry entries."""

from __future__ import annotations

import numpy as np
import pytest

from avdetect.corpus.cache import load_perception, save_perception
from avdetect.features import face_drift, face_motion, face_spectrum
from avdetect.features.registry import get_extractor
from avdetect.perception.faces import cut_luma, dense_face_tracks, square_boxes
from avdetect.records import Clip, DenseFaceTrack, Faces, FaceTrack, MediaInfo, Perception

FPS, SIZE = 25.0, 64
EYES = ((24.0, 26.0), (40.0, 26.0))  # crop pixels of the synthetic face's eyes
LANDMARKS = np.array([*EYES, (32.0, 34.0), (26.0, 42.0), (38.0, 42.0)], np.float32)


def render_face(dx: float = 0.0, dy: float = 0.0, *, eyes_closed: bool = False, size: int = SIZE) -> np.ndarray:
    """float64 (size, size) a textured face moved by (dx, dy) pixels, dark eyes unless closed."""
    y, x = np.mgrid[0:size, 0:size] + 0.5
    x, y = x - dx, y - dy
    centre = size / 2
    face = np.exp(-((((x - centre) / (0.33 * size)) ** 2 + ((y - centre) / (0.4 * size)) ** 2) ** 2))
    image = 60 + 120 * face + 15 * np.sin(0.7 * x) * np.cos(0.5 * y) * face
    if not eyes_closed:
        for ex, ey in EYES:
            image -= 90 * np.exp(-((x - ex) ** 2 / 8 + (y - ey) ** 2 / 3))
    return image


def dense_track(frames: list[np.ndarray], *, noise: float = 1.0, seed: int = 0) -> DenseFaceTrack:
    """A DenseFaceTrack at 25 fps with a still box, from float frames plus a little camera noise."""
    rng = np.random.default_rng(seed)
    crops = np.clip(np.stack(frames) + rng.normal(0, noise, (len(frames), SIZE, SIZE)), 0, 255).astype(np.uint8)
    n = len(frames)
    return DenseFaceTrack(track_id=0, times_s=np.arange(n) / FPS, boxes=np.tile([100.0, 100.0, 164.0, 164.0], (n, 1)).astype(np.float32),
                          landmarks=np.tile(LANDMARKS, (n, 1, 1)), crops=crops, luma_hw=(480, 640))


def face_track(n: int = 12, *, crops: np.ndarray | None = None, roll: np.ndarray | None = None) -> FaceTrack:
    """A sparse FaceTrack: a 100 px face at (100, 100), every frame detected, eyes turned by `roll`."""
    boxes = np.tile([100.0, 100.0, 200.0, 200.0], (n, 1)).astype(np.float32)
    base = np.array([[130, 135], [170, 135], [150, 155], [135, 175], [165, 175]], np.float64)
    angles = np.zeros(n) if roll is None else roll
    centre = base.mean(axis=0)
    rot = np.stack([[np.cos(angles), -np.sin(angles)], [np.sin(angles), np.cos(angles)]]).transpose(2, 0, 1)
    marks = np.einsum("tij,kj->tki", rot, base - centre) + centre
    if crops is None:
        crops = np.full((n, 224, 224, 3), 128, np.uint8)
    return FaceTrack(track_id=0, frame_idx=np.arange(n), times_s=np.arange(n) * 0.3, boxes=boxes,
                     landmarks=marks.astype(np.float32), probs=np.ones(n, np.float32), detected=np.ones(n, bool),
                     crop_boxes=square_boxes(boxes, 1 / 3), crops=crops)


def perception(tracks: tuple[FaceTrack, ...] = (), dense: tuple[DenseFaceTrack, ...] = ()) -> Perception:
    info = MediaInfo(path="x.mp4", format_name="mp4", duration_s=4.0, size_bytes=1, has_video=True, has_audio=False)
    clip = Clip(info=info, frames=np.zeros((0, 0, 0, 3), np.uint8), times_s=np.zeros(0), audio=np.zeros(0, np.float32),
                sample_rate=16000)
    faces = Faces(tracks=tracks, n_frames=12, detected_frame_idx=np.arange(12), detect_scale=1.0)
    return Perception(clip=clip, faces=faces, audio=None, dense_faces=dense)


def motion(dense: DenseFaceTrack) -> dict[str, float]:
    return dict(zip(face_motion.DENSE_NAMES, face_motion.dense_features(dense)))


# face_motion

def test_still_face_does_not_move_flicker_or_blink():
    values = motion(dense_track([render_face()] * 100))
    assert values["motion_speed_median"] < 0.02  # face sizes per second: estimator noise only
    assert values["blink_rate_per_min"] == 0
    flicker = [motion(dense_track([render_face()] * 40, noise=noise))["flicker_upper"] for noise in (0, 1, 4)]
    assert flicker[0] < 1e-6 and flicker[1] < flicker[2]  # camera noise is all that changes


def test_phase_correlation_finds_sub_pixel_shifts():
    shifts = face_motion.crop_shifts(np.stack([render_face(0, 0), render_face(1.5, -0.7)]))
    np.testing.assert_allclose(shifts[0], [1.5, -0.7], atol=0.2)


def test_jitter_has_high_frequency_motion_and_a_slow_sway_has_not():
    rng = np.random.default_rng(1)
    jitter = motion(dense_track([render_face(*rng.uniform(-1, 1, 2)) for _ in range(100)]))
    sway = motion(dense_track([render_face(3 * np.sin(2 * np.pi * 0.5 * i / FPS), 0) for i in range(100)]))
    assert jitter["motion_hf_share"] > 0.5
    assert sway["motion_hf_share"] < 0.1
    assert jitter["motion_jerk_ratio"] > 3 * sway["motion_jerk_ratio"]


def test_blinks_are_counted():
    closed = {20, 21, 22, 60, 61, 62}
    values = motion(dense_track([render_face(eyes_closed=i in closed) for i in range(100)]))
    assert values["blink_rate_per_min"] == pytest.approx(2 / (100 / FPS) * 60)
    assert values["eye_spike"] > 10


def test_a_face_that_flickers_against_a_steady_ring():
    rng = np.random.default_rng(2)
    inside = np.zeros((SIZE, SIZE))
    inside[12:52, 12:52] = 1
    flicker = motion(dense_track([render_face() + 8 * rng.normal(size=(SIZE, SIZE)) * inside for _ in range(60)]))
    steady = motion(dense_track([render_face() + 8 * rng.normal(size=(SIZE, SIZE)) for _ in range(60)]))
    assert flicker["flicker_face_ring_log"] > 0.7
    assert abs(steady["flicker_face_ring_log"]) < 0.3


def test_pose_reads_roll_from_the_eye_line():
    angles = face_motion.pose_angles(face_track(3, roll=np.array([0.0, 0.1, -0.2])).landmarks)
    np.testing.assert_allclose(angles[:, 0], [0.0, 0.1, -0.2], atol=1e-5)
    np.testing.assert_allclose(angles[:, 1], 0.0, atol=1e-5)  # the nose stays between the eyes


def test_pose_spread_and_speed_are_zero_for_a_still_head_and_grow_when_it_turns():
    still = dict(zip(face_motion.POSE_NAMES, face_motion.pose_features(face_track(12))))
    turning = dict(zip(face_motion.POSE_NAMES, face_motion.pose_features(face_track(12, roll=np.linspace(0, 0.6, 12)))))
    assert still["pose_roll_std"] == pytest.approx(0, abs=1e-6) and still["pose_roll_speed"] == pytest.approx(0, abs=1e-5)
    assert turning["pose_roll_speed"] == pytest.approx(0.6 / 11 / 0.3, rel=1e-3)


def test_no_face_gives_a_nan_row_and_an_old_cache_a_nan_dense_part():
    for name in ("face_motion", "face_drift", "face_spectrum"):
        row = get_extractor(name)(perception())
        assert row.shape == (len(get_extractor(name).names),) and np.isnan(row).all()
    row = get_extractor("face_motion")(perception((face_track(),)))
    n_pose = len(face_motion.POSE_NAMES)
    assert np.isfinite(row[:n_pose]).all() and np.isnan(row[n_pose:]).all()


def test_block_names_match_values():
    row = get_extractor("face_motion")(perception((face_track(),), (dense_track([render_face()] * 30),)))
    assert len(row) == len(face_motion.NAMES) == len(set(face_motion.NAMES))
    assert np.isfinite(row[: len(face_motion.POSE_NAMES)]).all()


# face_drift

def pasted_face(face_xy: tuple[float, float], scene_xy: tuple[float, float]) -> np.ndarray:
    """float64 (SIZE, SIZE) a textured scene moved by `scene_xy` with the face pasted on it moved by `face_xy`."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    sx, sy = x - scene_xy[0], y - scene_xy[1]
    scene = 90 + 30 * np.sin(0.45 * sx + 1.3 * np.cos(0.21 * sy)) * np.cos(0.37 * sy)
    fx, fy = x - face_xy[0] - SIZE / 2, y - face_xy[1] - SIZE / 2
    alpha = 1 / (1 + np.exp((np.maximum(np.abs(fx), np.abs(fy)) - 16) / 1.5))
    return scene * (1 - alpha) + render_face(*face_xy) * alpha


def drift(frames: list[np.ndarray]) -> dict[str, float]:
    row = face_drift.face_drift_features(perception((face_track(),), (dense_track(frames),)))
    return dict(zip(face_drift.NAMES, row))


def test_a_pasted_face_that_jitters_on_its_scene_drifts_and_a_shaking_camera_does_not():
    rng = np.random.default_rng(4)
    steps = rng.uniform(-1, 1, (80, 2))
    pasted = drift([pasted_face(tuple(step), (0.0, 0.0)) for step in steps])
    shaking = drift([pasted_face(tuple(step), tuple(step)) for step in steps])  # face and scene move as one
    sway = drift([pasted_face((3 * np.sin(2 * np.pi * 0.5 * i / FPS), 0.0), (0.0, 0.0)) for i in range(80)])
    assert pasted["face_drift_jitter_median"] > 5 * shaking["face_drift_jitter_median"]
    assert pasted["face_drift_jitter_median"] > 5 * sway["face_drift_jitter_median"]
    assert pasted["face_drift_hf_share"] > 0.5 > 0.1 > sway["face_drift_hf_share"]


def test_drift_needs_dense_crops_and_a_ring():
    assert np.isnan(list(drift([render_face()] * 5).values())).all()  # too few frames
    assert np.isnan(get_extractor("face_drift")(perception((face_track(),)))).all()


# face_spectrum

def spectrum_crops(face_noise: float, ring_noise: float, n: int = 4) -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:224, 0:224]
    smooth = 80 + 0.3 * x + 0.2 * y
    inside = (x >= 45) & (x < 180) & (y >= 45) & (y < 180)
    frames = [smooth + rng.normal(size=(224, 224)) * np.where(inside, face_noise, ring_noise) for _ in range(n)]
    return np.repeat(np.clip(np.stack(frames), 1, 255).astype(np.uint8)[..., None], 3, axis=3)


def spectrum(crops: np.ndarray) -> dict[str, float]:
    row = face_spectrum.face_spectrum_features(perception((face_track(len(crops), crops=crops),)))
    return dict(zip(face_spectrum.NAMES, row))


def test_a_noisy_face_in_a_smooth_ring_stands_out_and_a_uniform_one_does_not():
    blended = spectrum(spectrum_crops(face_noise=6, ring_noise=1))
    camera = spectrum(spectrum_crops(face_noise=3, ring_noise=3))
    assert blended["face_spectrum_noise_log_ratio"] > 1.0
    assert abs(camera["face_spectrum_noise_log_ratio"]) < 0.15
    assert blended["face_spectrum_hf_log_ratio"] > camera["face_spectrum_hf_log_ratio"] + 0.5
    assert blended["face_spectrum_noise_face"] == pytest.approx(6, rel=0.15)


def test_a_smooth_face_has_a_steeper_spectrum_than_a_noisy_one():
    smooth, noisy = spectrum(spectrum_crops(0.5, 0.5)), spectrum(spectrum_crops(6, 6))
    assert smooth["face_spectrum_face_slope"] < noisy["face_spectrum_face_slope"] - 1.0
    assert smooth["face_spectrum_face_hf"] < noisy["face_spectrum_face_hf"]


def test_ring_tiles_leave_out_the_black_outside_of_the_frame():
    crop = spectrum_crops(3, 3, n=1)[0]
    crop[:, :20] = 0
    face, ring = face_spectrum.tile_masks(crop, np.array([44.8, 44.8, 179.2, 179.2]))
    assert face.sum() == 25 and not ring[:, 0].any() and ring[0, -1]


# dense crops

def test_dense_face_tracks_follow_the_track_on_every_luma_frame(tmp_path):
    track = face_track(12)
    luma = np.stack([np.full((240, 320), 2 * i, np.uint8) for i in range(90)])
    clip = Clip(info=perception().clip.info, frames=np.zeros((12, 480, 640, 3), np.uint8), times_s=track.times_s,
                audio=np.zeros(0, np.float32), sample_rate=16000, luma=luma, luma_times_s=np.arange(90) / 25)
    (dense,) = dense_face_tracks(Faces((track,), 12, np.arange(12), 1.0), clip)
    assert dense.crops.shape == (len(dense.times_s), 64, 64) and dense.luma_hw == (240, 320)
    assert dense.times_s[0] == 0 and dense.times_s[-1] <= 3.3 + 0.15
    assert dense.crops[5].min() == dense.crops[5].max() == 10  # cut from the sixth luma frame
    np.testing.assert_allclose(dense.landmarks[0, 0], np.array([130 - 75, 135 - 75]) / 150 * 64, atol=1e-3)  # box 75..225
    seen = Perception(clip=clip, faces=Faces((track,), 12, np.arange(12), 1.0), audio=None, dense_faces=(dense,))
    save_perception(tmp_path / "p.npz", seen)
    assert load_perception(tmp_path / "p.npz").dense_faces[0].luma_hw == (240, 320)


def test_cut_luma_repeats_the_edge_outside_the_frame():
    luma = np.tile(np.arange(100, dtype=np.uint8), (50, 1))
    out = cut_luma(luma, np.array([-20.0, 0.0, 20.0, 40.0]), 8)
    assert out[:, 0].max() == 0 and out[:, -1].min() > 10
