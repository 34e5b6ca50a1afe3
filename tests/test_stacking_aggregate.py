"""Per-video features from hand-made probability arrays: named statistics, tracks, missing modalities."""

from __future__ import annotations

import numpy as np
import pytest

from stacking.aggregate import (
    AGGREGATORS,
    AggregateConfig,
    build_feature_table,
    confident_mean,
    interval_union_s,
    longest_run_fraction,
)
from stacking.errors import TableError
from stacking.records import FrameScores, SyncTable, WindowScores


def test_confident_mean_averages_only_confident_frames_when_many():
    p = np.array([0.95] * 12 + [0.3] * 8)  # 12 > 11 and 12 > 20 // 2.5
    assert confident_mean(p) == pytest.approx(0.95)
    assert np.mean(p) < 0.8


def test_confident_mean_falls_back_to_plain_mean():
    few = np.array([0.95] * 5 + [0.3] * 15)  # 5 confident frames: not enough
    assert confident_mean(few) == pytest.approx(few.mean())
    assert confident_mean(few, threshold=0.2, min_count=3) == pytest.approx(few.mean())  # 20 > 0.2
    assert confident_mean(np.array([0.9] * 20), threshold=0.95) == pytest.approx(0.9)


def test_confident_mean_real_side_and_empty():
    p = np.array([0.05] * 19 + [0.6])  # 19 of 20 below 0.2: the lone 0.6 is ignored
    assert confident_mean(p) == pytest.approx(0.05)
    assert np.isnan(confident_mean(np.array([])))


def test_longest_run_fraction():
    assert longest_run_fraction(np.array([0.1, 0.9, 0.9, 0.2, 0.9, 0.9, 0.9, 0.1])) == pytest.approx(3 / 8)
    assert longest_run_fraction(np.full(4, 0.2)) == 0.0
    assert longest_run_fraction(np.full(4, 0.7)) == 1.0
    assert longest_run_fraction(np.array([0.6, 0.4]), threshold=0.3) == 1.0
    assert np.isnan(longest_run_fraction(np.array([])))


def test_interval_union_counts_overlap_once():
    assert interval_union_s(np.array([0.0, 1.0, 5.0]), np.array([2.0, 3.0, 6.0])) == pytest.approx(4.0)


def _frames(rows: list[tuple[str, int, float, float]]) -> FrameScores:
    video, track, time_s, p = zip(*rows)
    return FrameScores(np.array(video), np.array(track, np.int64), np.array(time_s), np.array(p))


def test_max_over_tracks_and_main_track():
    # Track 0 is long and real-looking; track 1 is short and fake: "some fakes swap one of several faces".
    rows = [("a", 0, t * 0.1, 0.1) for t in range(10)] + [("a", 1, t * 0.1, 0.9) for t in range(4)]
    table = build_feature_table(_frames(rows), None, None)
    assert table.column("vis_max_mean")[0] == pytest.approx(0.9)
    assert table.column("vis_main_mean")[0] == pytest.approx(0.1)
    assert table.column("vis_all_mean")[0] == pytest.approx((10 * 0.1 + 4 * 0.9) / 14)
    assert table.column("n_tracks")[0] == 2
    assert table.column("n_faces")[0] == 14
    assert table.column("n_frames")[0] == 10


def test_runs_follow_time_not_row_order():
    times = [0.4, 0.0, 0.2, 0.1, 0.3]
    probs = [0.9, 0.1, 0.9, 0.1, 0.9]  # in time order: 0.1 0.1 0.9 0.9 0.9
    table = build_feature_table(_frames([("a", 0, t, p) for t, p in zip(times, probs)]), None, None)
    assert table.column("vis_main_longest_run")[0] == pytest.approx(3 / 5)


def test_missing_modalities_are_nan_with_flags():
    frames = _frames([("v", 0, 0.0, 0.7)])
    windows = WindowScores(np.array(["a", "a"]), np.array([0.0, 1.0]), np.array([2.0, 3.0]),
                           np.array([0.2, 0.8]))
    sync = SyncTable(np.array(["a"]), np.array([[0.04, 0.5]]), ("best_lag_s", "peak score"))
    videos, X, names = build_feature_table(frames, windows, sync, videos=["a", "v", "none"])
    assert videos.tolist() == ["a", "v", "none"]
    col = {n: X[:, i] for i, n in enumerate(names)}
    assert np.isnan(col["vis_max_mean"][0]) and col["has_face"].tolist() == [0, 1, 0]
    assert col["aud_max"][0] == pytest.approx(0.8) and np.isnan(col["aud_mean"][1])
    assert col["has_audio"].tolist() == [1, 0, 0] and col["speech_s"][0] == pytest.approx(3.0)
    assert col["sync_best_lag_s"][0] == pytest.approx(0.04) and col["sync_peak_score"][0] == 0.5
    assert np.isnan(col["sync_peak_score"][1]) and col["has_sync"].tolist() == [1, 0, 0]
    assert np.isnan(X[2, :]).sum() == X.shape[1] - sum(
        n.startswith(("n_", "has_")) or n == "speech_s" for n in names)


def test_default_videos_and_no_container_metadata():
    table = build_feature_table(_frames([("b", 0, 0.0, 0.5), ("a", 0, 0.0, 0.5)]), None, None)
    assert table.videos.tolist() == ["a", "b"]
    assert not any(k in n for n in table.names for k in ("ratio", "width", "height", "bitrate", "codec"))
    assert len(table.names) == len(set(table.names)) == table.X.shape[1]


def test_config_selects_aggregators_and_rejects_unknown():
    table = build_feature_table(_frames([("a", 0, 0.0, 0.5)]), None, None,
                                config=AggregateConfig(stats=("mean", "max")))
    assert [n for n in table.names if n.startswith("vis_main_")] == ["vis_main_mean", "vis_main_max"]
    with pytest.raises(ValueError, match="valid: mean"):
        AggregateConfig(stats=("mean", "harmonic"))
    assert AggregateConfig.from_dict(AggregateConfig().to_dict()) == AggregateConfig()
    assert set(AggregateConfig().stats) == set(AGGREGATORS)


def test_records_check_their_inputs():
    with pytest.raises(TableError, match="probabilities"):
        _frames([("a", 0, 0.0, 1.5)])
    with pytest.raises(TableError, match="ends before"):
        WindowScores(np.array(["a"]), np.array([2.0]), np.array([1.0]), np.array([0.5]))
    with pytest.raises(TableError, match="twice"):
        SyncTable(np.array(["a", "a"]), np.zeros((2, 1)), ("x",))
