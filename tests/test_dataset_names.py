"""Groups and actors named from file names (`avdetect.corpus.datasets.common`), through `folder.prepare`."""

from __future__ import annotations

from pathlib import Path

from test_datasets import by_name, touch

from avdetect.corpus.datasets import folder
from avdetect.corpus.datasets.common import actor_from_name, connected_components, infer_groups, name_keys


def test_folder_infers_groups_from_names(tmp_path):
    touch(tmp_path, "real/519.mp4", "fake/519_515.mp4", "real/515.mp4", "real/bob-real.mp4",
          "fake/bob-fake.mp4", "fake/0_aaqaifqrwn.mp4_0_0.mp4", "fake/0_aaqaifqrwn.mp4_1_0.mp4",
          "real/other.mp4", "real/id00042/x.mp4")
    rows = by_name(folder.prepare(tmp_path))
    assert rows["519.mp4"].group == rows["515.mp4"].group == rows["519_515.mp4"].group
    assert rows["bob-real.mp4"].group == rows["bob-fake.mp4"].group == "bob"
    assert rows["0_aaqaifqrwn.mp4_0_0.mp4"].group == rows["0_aaqaifqrwn.mp4_1_0.mp4"].group == "aaqaifqrwn"
    assert rows["other.mp4"].group == "other"
    assert rows["x.mp4"].actor == "id00042"


def test_folder_unites_corpus_copies_and_speakers_by_name(tmp_path):
    touch(tmp_path, "real/LJ029-0001.wav", "fake/LJ029-0001_gen.wav", "real/LJ047-0088.wav",
          "real/p225_001_mic1.flac", "real/p225_001_mic2.flac", "real/p225_002_mic1.flac",
          "real/103-1240-0000.flac", "real/103_1241_000000_000001.wav", "real/bbaf2n.mpg")
    rows = by_name(folder.prepare(tmp_path))
    assert rows["LJ029-0001.wav"].group == rows["LJ029-0001_gen.wav"].group == "LJ029-0001"  # WaveFake's copy
    assert {rows[n].actor for n in ("LJ029-0001.wav", "LJ029-0001_gen.wav", "LJ047-0088.wav")} == {"ljspeech"}
    assert rows["p225_001_mic1.flac"].group == rows["p225_001_mic2.flac"].group != rows["p225_002_mic1.flac"].group
    assert {rows[n].actor for n in ("p225_001_mic1.flac", "p225_002_mic1.flac")} == {"vctk-p225"}
    assert rows["103-1240-0000.flac"].actor == rows["103_1241_000000_000001.wav"].actor == "libri-spk103"
    assert rows["bbaf2n.mpg"].actor is None


def test_a_csv_actor_wins_over_the_name(tmp_path):
    touch(tmp_path, "v/p225_001_mic1.flac", "v/p226_001_mic1.flac")
    csv = tmp_path / "labels.csv"
    csv.write_text("path,label,actor\nv/p225_001_mic1.flac,REAL,alice\nv/p226_001_mic1.flac,REAL,\n")
    rows = by_name(folder.prepare(tmp_path, csv=csv))
    assert (rows["p225_001_mic1.flac"].actor, rows["p226_001_mic1.flac"].actor) == ("alice", "vctk-p226")


def test_name_keys_and_connected_components():
    assert name_keys(Path("519_515.mp4")) == ["519", "515"]
    assert name_keys(Path("x/cyshih704-fake.mp4")) == ["cyshih704"]
    assert name_keys(Path("0_aejvkfbtxs.mp4_0_1.mp4")) == ["aejvkfbtxs"]
    assert name_keys(Path("video-retalking-1.mp4")) == ["video-retalking-1"]
    assert name_keys(Path("LJ001-0001_gen.wav")) == ["LJ001-0001"]
    assert name_keys(Path("p225_001_mic2.flac")) == ["p225_001"]
    assert actor_from_name(Path("2020-01-01.mp4")) is None and actor_from_name(Path("LJ001-0001.wav")) == "ljspeech"
    assert connected_components([["b", "c"], ["a"], ["c", "d"]]) == {"a": "a", "b": "b", "c": "b", "d": "b"}
    assert infer_groups([Path("2_1.mp4"), Path("3_2.mp4"), Path("9.mp4")]) == ["1", "1", "9"]
