"""Fake segments from score sequences: hysteresis, gap merging, minimum length, frames and windows."""

from __future__ import annotations

import numpy as np
import pytest

from stacking.segments import SegmentConfig, fake_segments, frame_segments, frame_spans, hysteresis, merge_intervals


def test_hysteresis_needs_one_high_score_and_extends_over_low_ones():
    p = np.array([0.1, 0.5, 0.8, 0.5, 0.3, 0.45, 0.9, 0.2, 0.55, 0.6, 0.1])
    mask = hysteresis(p, high=0.7, low=0.4)
    assert mask.astype(int).tolist() == [0, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0]  # 0.55, 0.6 never reach 0.7


def test_frame_sequence_with_a_fake_second():
    fps, rng = 25, np.random.default_rng(0)
    t = np.arange(5 * fps) / fps
    p = np.clip(rng.normal(0.15, 0.05, t.size), 0, 1)
    p[(t >= 2.0) & (t < 3.0)] = 0.9
    p[(t >= 2.4) & (t < 2.5)] = 0.5  # a dip inside stays fake (>= low)
    p[int(4.2 * fps)] = 0.95  # one spike: too short to count
    segments = frame_segments(t, p)
    assert len(segments) == 1
    assert segments[0] == pytest.approx([2.0, 3.0], abs=1 / fps)


def test_gaps_shorter_than_half_a_second_merge():
    t = np.arange(60) * 0.1
    p = np.zeros(60)
    p[10:20], p[23:33], p[45:55] = 0.9, 0.9, 0.9  # gaps of 0.3 s and 1.2 s
    segments = frame_segments(t, p)
    assert len(segments) == 2
    assert segments[0] == pytest.approx([0.95, 3.25], abs=1e-6)
    assert len(frame_segments(t, p, SegmentConfig(merge_gap_s=0.2))) == 3
    assert frame_segments(t, p, SegmentConfig(min_length_s=2.0)) == [[0.95, 3.25]]


def test_windows_and_several_faces():
    start = np.arange(6.0)
    segments = fake_segments(start, start + 2.0, np.array([0.1, 0.2, 0.9, 0.8, 0.1, 0.1]))
    assert segments == [[2.0, 5.0]]
    # Two faces in the same frames: the frame is as fake as its most fake face.
    t = np.repeat(np.arange(10) * 0.1, 2)
    p = np.tile([0.1, 0.0], 10)
    p[8:14:2] = 0.9
    assert frame_segments(t, p, SegmentConfig(min_length_s=0.0)) == [[0.35, 0.65]]


def test_helpers_and_config_checks():
    assert merge_intervals([(3.0, 4.0), (0.0, 1.0), (1.0, 2.0), (4.2, 5.0)], 0.5) == [(0.0, 2.0), (3.0, 5.0)]
    start, end = frame_spans(np.array([0.0, 1.0, 2.0]))
    assert start.tolist() == [0.0, 0.5, 1.5] and end.tolist() == [0.5, 1.5, 2.5]
    assert fake_segments(np.zeros(0), np.zeros(0), np.zeros(0)) == []
    with pytest.raises(ValueError, match="low <= high"):
        SegmentConfig(high=0.3, low=0.5)
