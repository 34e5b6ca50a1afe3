"""Face detection on real faces: tracks, plausibility filters, margin crops."""

from __future__ import annotations

import numpy as np
import pytest

from avdetect.perception.faces import FaceConfig, FaceDetector, crop, detect_scale, expand_box, sparse_frames
from avdetect.perception.video import DecodeConfig, read_clip


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_expand_box_adds_a_third_of_the_face_each_side():
    box = expand_box(np.array([10, 20, 40, 60]))  # face 30 x 40: the longer side sets the square
    assert np.allclose(box[2] - box[0], 40 * (1 + 2 / 3)) and np.allclose(box[3] - box[1], 40 * (1 + 2 / 3))
    assert np.allclose((box[:2] + box[2:]) / 2, [25, 40])


def test_crop_pads_outside_the_frame_with_black():
    frame = np.full((10, 10, 3), 200, np.uint8)
    out = crop(frame, np.array([-10, -10, 10, 10]), 20)
    assert out.shape == (20, 20, 3) and out[:8, :8].max() == 0 and out[12:, 12:].min() == 200


def test_sparse_frames_and_scale():
    assert sparse_frames(10, 4) == [0, 4, 8, 9] and sparse_frames(1, 4) == [0]
    assert detect_scale((1080, 1920), 360) == pytest.approx(1 / 3) and detect_scale((240, 320), 360) == 1.0


def test_no_frames_no_tracks(detector):
    faces = detector(np.zeros((0, 0, 0, 3), np.uint8), np.zeros(0))
    assert faces.tracks == () and faces.n_frames == 0


def test_no_face_in_a_pattern(detector, bad_inputs):
    clip = read_clip(bad_inputs["no_face"].path, DecodeConfig(n_frames=8))
    assert detector(clip.frames, clip.times_s).tracks == ()


def test_four_faces_four_tracks(detector, bad_inputs):
    if "four_faces" not in bad_inputs:
        pytest.skip("needs the shared face images")
    clip = read_clip(bad_inputs["four_faces"].path, DecodeConfig(n_frames=8))
    faces = detector(clip.frames, clip.times_s)
    assert len(faces.tracks) == 4
    for track in faces.tracks:
        assert len(track) == 8 and track.crops.shape == (8, 224, 224, 3)
        assert track.landmarks.shape == (8, 5, 2) and np.all(track.probs >= 0.9)
        assert np.allclose(track.times_s, clip.times_s)


def test_interpolated_frames_are_marked_and_fewer_detector_runs(detector, bad_inputs):
    if "speech_clip" not in bad_inputs:
        pytest.skip("needs the shared face images")
    clip = read_clip(bad_inputs["speech_clip"].path, DecodeConfig(n_frames=32))
    faces = detector(clip.frames, clip.times_s)
    assert len(faces.tracks) == 1 and len(faces.tracks[0]) == 32
    assert len(faces.detected_frame_idx) < 32 and faces.tracks[0].detected.sum() == len(faces.detected_frame_idx)


def test_landmarks_fall_inside_the_crop(detector, bad_inputs):
    if "speech_clip" not in bad_inputs:
        pytest.skip("needs the shared face images")
    clip = read_clip(bad_inputs["speech_clip"].path, DecodeConfig(n_frames=4))
    track = detector(clip.frames, clip.times_s).tracks[0]
    marks = track.crop_landmarks()
    assert np.all(marks > 224 * 0.2) and np.all(marks < 224 * 0.8)  # the margin keeps the face central


def test_tiny_faces_are_dropped(bad_inputs):
    if "four_faces" not in bad_inputs:
        pytest.skip("needs the shared face images")
    clip = read_clip(bad_inputs["four_faces"].path, DecodeConfig(n_frames=4))
    strict = FaceDetector(FaceConfig(min_face_px=400))
    assert strict(clip.frames, clip.times_s).tracks == ()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["video/grid/bbaf2n.mpg", "video/ffpp/Face2Face/750_743.mp4"])
def test_real_speaker_found_in_nine_of_ten_frames(detector, shared_data, name):
    clip = read_clip(shared_data / name)
    faces = detector(clip.frames, clip.times_s)
    assert faces.frames_with_face >= 0.9 * len(clip.frames)
    assert faces.tracks[0].face_size.min() > 60
