"""Linking detections into tracks, finding gaps that must be detected, interpolation."""

from __future__ import annotations

import numpy as np

from avdetect.perception.tracks import Detections, box_iou, interpolate, link, smooth_boxes, unstable_gaps


def _det(frame: int, *boxes: tuple[float, float, float, float]) -> Detections:
    b = np.array(boxes, np.float32).reshape(-1, 4)
    marks = np.repeat(((b[:, :2] + b[:, 2:]) / 2)[:, None, :], 5, axis=1)
    return Detections(frame=frame, boxes=b, landmarks=marks, probs=np.full(len(b), 0.99, np.float32))


def test_box_iou():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    assert np.allclose(box_iou(a, b), [[1.0, 50 / 150, 0.0]])


def test_two_faces_stay_on_their_tracks_even_when_listed_in_swapped_order():
    dets = [_det(0, (0, 0, 10, 10), (50, 0, 60, 10)), _det(4, (52, 0, 62, 10), (1, 0, 11, 10))]
    tracks = link(dets)
    assert len(tracks) == 2
    assert [t.boxes[-1, 0] for t in tracks] == [1, 52]


def test_a_face_far_away_starts_a_new_track():
    tracks = link([_det(0, (0, 0, 10, 10)), _det(4, (100, 100, 110, 110))])
    assert len(tracks) == 2


def test_interpolation_fills_between_detections():
    track = link([_det(0, (0, 0, 10, 10)), _det(4, (4, 0, 14, 10))])[0]
    frames, boxes, marks, probs, detected = interpolate(track)
    assert frames.tolist() == [0, 1, 2, 3, 4]
    assert np.allclose(boxes[:, 0], [0, 1, 2, 3, 4]) and marks.shape == (5, 5, 2)
    assert detected.tolist() == [True, False, False, False, True] and np.all(probs == np.float32(0.99))


def test_unstable_gaps_are_the_frames_between_a_big_jump():
    detected = np.array([0, 4, 8])
    tracks = link([_det(0, (0, 0, 10, 10)), _det(4, (1, 0, 11, 10)), _det(8, (6, 0, 16, 10))], min_iou=0.1)
    assert unstable_gaps(tracks, detected, min_iou=0.5) == [5, 6, 7]


def test_unstable_gaps_where_a_track_starts_or_ends():
    detected = np.array([0, 4, 8])
    tracks = link([_det(0), _det(4, (0, 0, 10, 10)), _det(8, (0, 0, 10, 10))])
    assert unstable_gaps(tracks, detected, min_iou=0.5) == [1, 2, 3]


def test_smoothing_keeps_a_still_box_and_shape():
    boxes = np.tile(np.array([[1, 2, 3, 4]], np.float32), (6, 1))
    assert np.allclose(smooth_boxes(boxes), boxes) and smooth_boxes(boxes[:2]).shape == (2, 4)
