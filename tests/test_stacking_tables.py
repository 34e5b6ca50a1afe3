"""Readers of the branches' CSV files (the training code's columns and aliases) and path matching."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from stacking.errors import TableError
from stacking.tables import (
    match_paths,
    parse_label,
    per_video_labels,
    read_frame_scores,
    read_sync_table,
    read_window_scores,
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_visual_oof_with_training_columns(tmp_path):
    path = _write(tmp_path / "oof.csv", """
path,track,position,time_s,label,fold,probability
/d/a.mp4,0,10,0.4,1,0,0.9
/d/a.mp4,0,0,0.0,1,0,0.8
/d/b.mp4,1,3,0.12,0,1,0.1
""")
    scores = read_frame_scores(path)
    assert scores.video.tolist() == ["/d/a.mp4", "/d/a.mp4", "/d/b.mp4"]
    assert scores.track.tolist() == [0, 0, 1] and scores.time_s.tolist() == [0.4, 0.0, 0.12]
    assert scores.p.tolist() == [0.9, 0.8, 0.1]
    assert per_video_labels(path) == {"/d/a.mp4": 1, "/d/b.mp4": 0}


def test_visual_without_time_is_put_in_frame_order(tmp_path):
    path = _write(tmp_path / "oof.csv", "video,frame_idx,p_fake\nv,5,0.5\nv,1,0.1\n")
    scores = read_frame_scores(path)
    assert scores.p.tolist() == [0.1, 0.5] and np.isnan(scores.time_s).all()
    assert scores.track.tolist() == [0, 0]


def test_audio_oof_start_as_time_and_window_labels(tmp_path):
    path = _write(tmp_path / "oof.csv", """
path,track,position,time_s,label,fold,probability
a.wav,-1,0,0.0,0,0,0.2
a.wav,-1,1,1.0,1,0,0.7
b.wav,-1,0,0.5,0,1,0.1
""")
    scores = read_window_scores(path, window_s=2.0)
    assert scores.start_s.tolist() == [0.0, 1.0, 0.5] and scores.end_s.tolist() == [2.0, 3.0, 2.5]
    assert per_video_labels(path, any_fake=True) == {"a.wav": 1, "b.wav": 0}
    with pytest.raises(TableError, match="both labels"):
        per_video_labels(path)
    explicit = _write(tmp_path / "w.csv", "path,start_s,end_s,p_fake\na,0,1.5,0.3\n")
    assert read_window_scores(explicit).end_s.tolist() == [1.5]


def test_sync_table_keeps_numeric_feature_columns(tmp_path):
    path = _write(tmp_path / "sync.csv", """
path,best_lag_s,peak,label,note
a,0.04,0.8,FAKE,x
b,,0.2,REAL,y
""")
    sync = read_sync_table(path)
    assert sync.names == ("best_lag_s", "peak")
    assert sync.values[0].tolist() == [0.04, 0.8] and np.isnan(sync.values[1, 0])


def test_malformed_tables(tmp_path):
    with pytest.raises(TableError, match="no p column"):
        read_frame_scores(_write(tmp_path / "a.csv", "path,track\nx,0\n"))
    with pytest.raises(TableError, match="not a number"):
        read_frame_scores(_write(tmp_path / "b.csv", "path,probability\nx,high\n"))
    with pytest.raises(TableError, match="outside"):
        read_frame_scores(_write(tmp_path / "c.csv", "path,probability\nx,3.5\n"))
    with pytest.raises(TableError, match="cells"):
        read_frame_scores(_write(tmp_path / "d.csv", "path,probability\nx,0.5,1\n"))
    with pytest.raises(TableError, match="not found"):
        read_frame_scores(tmp_path / "none.csv")
    assert parse_label("fake") == 1 and parse_label("0") == 0 and parse_label("") == -1
    with pytest.raises(TableError, match="unknown label"):
        parse_label("maybe")


def test_match_paths(tmp_path):
    root = tmp_path / "data"
    known = [os.path.normpath(root / "real" / "a.mp4"), os.path.normpath(root / "fake" / "a.mp4"),
             os.path.normpath(root / "fake" / "b.mp4")]
    ids = [known[0], "fake/a.mp4", "real/a.mp4", "missing.mp4"]
    assert match_paths(ids, known, [tmp_path / "runs", root]) == {
        known[0]: known[0], "fake/a.mp4": known[1], "real/a.mp4": known[0]}
    # Written relative to a folder not among the bases: matched by unique suffix, never ambiguously.
    assert match_paths(["fake/b.mp4", "a.mp4", "b.mp4"], known, [tmp_path / "runs"]) == {
        "fake/b.mp4": known[2], "b.mp4": known[2]}
