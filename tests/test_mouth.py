"""Mouth regions on every dense frame, interpolated along the face track."""

from __future__ import annotations

import numpy as np
import pytest

from avdetect.perception.mouth import MouthConfig, mouth_boxes, mouth_tracks
from avdetect.perception.perceiver import Perceiver
from avdetect.records import FaceTrack


def _track(times: np.ndarray, x_shift: float) -> FaceTrack:
    n = len(times)
    boxes = np.array([[100 + x_shift * i, 100, 200 + x_shift * i, 220] for i in range(n)], np.float32)
    marks = np.zeros((n, 5, 2), np.float32)
    marks[:, 3] = boxes[:, :2] + [30, 90]
    marks[:, 4] = boxes[:, :2] + [70, 90]
    return FaceTrack(0, np.arange(n), times, boxes, marks, np.ones(n, np.float32), np.ones(n, bool),
                     boxes.copy(), np.zeros((n, 8, 8, 3), np.uint8))


def test_mouth_box_follows_the_mouth_corners_in_time():
    track = _track(np.array([0.0, 1.0]), x_shift=10)
    boxes = mouth_boxes(track, np.array([0.0, 0.5, 1.0]), MouthConfig(width=0.7, height=0.4, drop=0.0))
    assert np.allclose((boxes[:, 0] + boxes[:, 2]) / 2, [150, 155, 160])
    assert np.allclose(boxes[:, 2] - boxes[:, 0], 70) and np.allclose((boxes[:, 1] + boxes[:, 3]) / 2, 190)


@pytest.fixture(scope="module")
def perceiver():
    return Perceiver()


def test_every_dense_frame_gets_a_mouth_crop(perceiver, bad_inputs):
    if "speech_clip" not in bad_inputs:
        pytest.skip("needs the shared face images")
    seen = perceiver(bad_inputs["speech_clip"].path)
    assert len(seen.mouths) == 1
    mouth = seen.mouths[0]
    assert mouth.crops.shape == (len(mouth.times_s), 32, 64) and mouth.crops.dtype == np.uint8
    assert len(mouth.times_s) >= 0.9 * len(seen.clip.luma_times_s)


def test_no_face_no_mouth(perceiver, bad_inputs):
    assert perceiver(bad_inputs["no_face"].path).mouths == ()
    assert mouth_tracks(perceiver(bad_inputs["audio_only_wav"].path).faces, perceiver(bad_inputs["audio_only_wav"].path).clip) == ()
