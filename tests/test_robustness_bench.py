"""benchmarks/robustness.py: which videos it takes, and the table it prints."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from bench_scripts import load_benchmark


def load_script():
    return load_benchmark("robustness")


def test_picks_each_class_in_turn_from_every_dataset(tmp_path):
    rows = [("video/a/1.mp4", "REAL", "A"), ("video/a/2.mp4", "REAL", "A"), ("video/a/3.mp4", "REAL", "A"),
            ("video/b/1.mp4", "REAL", "B"), ("video/c/1.mp4", "FAKE", "C"), ("video/d/1.mp4", "FAKE", "D"),
            ("video/d/2.mp4", "UNKNOWN", "D"), ("speech/x.wav", "FAKE", "E")]
    with (tmp_path / "MANIFEST.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "dataset"), *rows])
    picked = load_script().pick_videos(tmp_path / "MANIFEST.csv", per_class=2)
    assert [(p.relative_to(tmp_path).as_posix(), y) for p, y in picked] == [
        ("video/a/1.mp4", 0), ("video/b/1.mp4", 0), ("video/c/1.mp4", 1), ("video/d/1.mp4", 1)]


def test_table_compares_each_version_with_the_original():
    script = load_script()
    videos = [(Path("r.mp4"), 0), (Path("f.mp4"), 1)]
    scores = {"original": [script.Scored(0.2, "real", "ok"), script.Scored(0.8, "fake", "ok")],
              "re-encoded": [script.Scored(0.5, "inconclusive", "ok"), script.Scored(np.nan, "", "DecodeError: x")]}
    lines = script.table(videos, scores).splitlines()
    assert lines[2].split()[:4] == ["re-encoded", "1", "0.300", "0.300"]  # the failed one is left out
    assert "1 of 1" in lines[2]
