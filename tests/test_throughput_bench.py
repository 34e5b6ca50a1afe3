"""The reference decode of benchmarks/throughput.py and the clips it reuses without the shared data."""

from __future__ import annotations

import pytest

from bench_scripts import load_benchmark
from media import make_video


def test_libav_reference_decodes_every_frame_of_both_streams(tmp_path):
    perception = load_benchmark("perception")
    path = make_video(tmp_path / "clip.mp4", duration_s=1.0, fps=10)
    video, audio = perception.decode_everything(path)
    assert video == 10 and audio > 0
    name, timer = perception.decode_reference("libav")
    assert name == "libav" and timer(path) > 0


def test_auto_reference_is_ffmpegs_program_where_installed():
    pytest.importorskip("imageio_ffmpeg")
    assert load_benchmark("perception").decode_reference("auto")[0] == "ffmpeg"


def test_clips_made_earlier_are_used_without_the_shared_data(tmp_path, monkeypatch):
    clips = load_benchmark("bench_clips")
    monkeypatch.setattr(clips, "SHARED", tmp_path / "no-shared-data")
    folder = tmp_path / "clips"
    assert clips.make_clips(folder) == []  # none made, nothing to make them from
    folder.mkdir()
    made = [folder / f"{name}.mp4" for name, *_ in clips.SOURCES]
    for path in made:
        path.write_bytes(b"x")
    assert clips.make_clips(folder) == made
