"""`avdetect fit-stacker --voice-folds`: the voice stacker, fitted on every voice with a label of its own, beside
the video stacker of `test_fit_stacker.py`'s synthetic runs folder."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from avdetect.cli import main
from avdetect.corpus.folds import write_folds
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, read_manifest, write_manifest
from avdetect.training.stacker_data import TrainingData, voice_columns, voice_rows
from stacking.bundle import load_bundle
from stacking.records import FeatureTable
from test_fit_stacker import make_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("stacker"))


def add_speech(runs: dict[str, Path], n_groups: int = 24, seed: int = 1) -> dict[str, Path]:
    """Speech files (voice scores only, no face; 2-9 windows each) next to make_runs' videos: their manifest and audio
    OOF rows join the run's; folds_all.csv holds every row, the videos on their own folds."""
    from avdetect.corpus.folds import read_folds
    from avdetect.corpus.manifest import read_manifest

    rng = np.random.default_rng(seed)
    rows, folds = read_manifest(runs["manifest"]), [f.fold for f in read_folds(runs["folds"])]
    audio = []
    for g in range(n_groups):
        for fake in (0, 1):
            path = runs["root"] / "speech" / f"spk{g:02d}_{fake}.wav"
            rows.append(ManifestRow(path, FAKE if fake else REAL, f"spk{g:02d}", audio_label=FAKE if fake else REAL,
                                    dataset="speech", family=("vocoder", "tts")[g % 2] if fake else ""))
            folds.append(g % 3)
            n = 2 + g % 8  # windows: some voices are short
            p = rng.beta(5, 2, n) if fake else rng.beta(2, 5, n)
            audio += [[str(path), -1, i, float(i), fake, g % 3, f"{q:.4f}"] for i, q in enumerate(p)]
    out = runs["root"] / "with_speech"
    shutil.copytree(runs["runs"], out / "runs")
    with (out / "runs" / "audio" / "oof.csv").open("a", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(audio)
    write_manifest(rows, out / "manifest.csv")
    write_folds(rows, np.array(folds), out / "folds_all.csv")
    return {**runs, "root": out, "runs": out / "runs", "manifest": out / "manifest.csv",
            "all_folds": out / "folds_all.csv"}


@pytest.fixture(scope="module")
def speech(runs):
    return add_speech(runs)


def fit_voice(speech: dict, *options: str) -> int:
    """fit-stacker on the speech fixture's runs with its voice folds and manifest, and `options`."""
    return main(["fit-stacker", "--oof", str(speech["runs"]), "--folds", str(speech["folds"]),
                 "--voice-folds", str(speech["all_folds"]), "--manifest", str(speech["manifest"]), *options])


def without_voice_folds(speech: dict, tmp_path: Path, *options: str) -> int:
    """fit-stacker on the speech fixture's runs with a voice stacker's `options` but no --voice-folds."""
    return main(["fit-stacker", "--oof", str(speech["runs"]), "--folds", str(speech["folds"]), *options,
                 "-o", str(tmp_path / "c")])


def test_voice_folds_fit_the_voice_stacker_on_every_voice_with_a_label(speech, tmp_path, capsys):
    code = fit_voice(speech, "-o", str(tmp_path / "m"))
    assert code == 0, capsys.readouterr().err
    video, voice = load_bundle(tmp_path / "m/stacker"), load_bundle(tmp_path / "m/voice")
    assert voice.feature_names and set(voice.feature_names) == set(voice_columns(video.feature_names))
    with (tmp_path / "m/voice/oof.csv").open(newline="") as f:
        scored = {Path(r["path"]).name: r for r in csv.DictReader(f)}
    audio_labels = {r.path.name: r.audio_label for r in read_manifest(speech["manifest"])}
    assert len(scored) == 48 + 60  # the speech files and the videos' voices
    assert all(int(r["label"]) == (audio_labels[name] == FAKE) for name, r in scored.items())  # the voice's own
    p = np.array([float(r["p_fake"]) for r in scored.values()])
    y = np.array([int(r["label"]) for r in scored.values()])
    assert p[y == 1].mean() > p[y == 0].mean() + 0.2  # the voice scores carry it
    report = json.loads((tmp_path / "m/voice/report.json").read_text())
    assert report["fit"]["family_balance"] == 0.0  # the families as they come, unless asked
    with (tmp_path / "m/stacker/oof.csv").open(newline="") as f:
        assert {Path(r["path"]).suffix for r in csv.DictReader(f)} == {".mp4"}


def test_voice_rows_leave_out_dubs_and_the_columns_of_the_face():
    names = ("vis_all_mean", "has_face", "aud_mean", "has_audio", "sync_peak")
    videos = np.array(["a.wav", "b.wav", "c.wav", "d.wav", "v.mp4", "v.mp4#dub=w.mp4", "silent.mp4"])
    speech = [[np.nan, 0, p, 1, np.nan] for p in (0.2, 0.9, 0.3, 0.8)]
    X = np.array(speech + [[0.7, 1, 0.3, 1, 0.1], [0.2, 1, 0.4, 1, 0.5], [0.6, 1, np.nan, 0, np.nan]])
    data = TrainingData(FeatureTable(videos, X, names), np.array([0, 1, 0, 1, 1, 1, 1]), np.zeros(7, np.int64),
                        {"audio": np.array([0, 1, 0, 1, 0, 1, -1]), "visual": np.array([-1] * 4 + [1, 0, 1])},
                        {"family": np.array(["real", "tts", "real", "tts", "swap", "variant:dub", "swap"])},
                        videos, {})
    voice = voice_rows(data)
    assert voice.table.videos.tolist() == ["a.wav", "b.wav", "c.wav", "d.wav", "v.mp4"]  # no dub, no silent video
    assert voice.y.tolist() == [0, 1, 0, 1, 0]  # a face swap with its own voice is a real voice
    assert voice.table.names == ("aud_mean", "has_audio")


def test_voice_only_columns_are_read_by_the_voice_stacker_alone(speech, tmp_path, capsys):
    code = fit_voice(speech, "--voice-only", "aud_q*", "-o", str(tmp_path / "m"))
    assert code == 0, capsys.readouterr().err
    video, voice = load_bundle(tmp_path / "m/stacker"), load_bundle(tmp_path / "m/voice")
    only = [name for name in voice.feature_names if name.startswith("aud_q")]
    assert only and not set(only) & set(video.feature_names)
    assert set(voice.feature_names) - set(only) == set(voice_columns(video.feature_names))
    report = json.loads((tmp_path / "m/stacker/report.json").read_text())
    assert report["fit"]["voice_only"] == ["aud_q*"]
    assert fit_voice(speech, "--voice-only", "vis_main_*", "-o", str(tmp_path / "n")) == 2
    assert "features; the voice stacker reads the columns made from the voice" in capsys.readouterr().err


def test_voice_columns_are_all_the_voice_stacker_reads(speech, tmp_path, capsys):
    code = fit_voice(speech, "--voice-columns", "aud_mean,has_audio", "-o", str(tmp_path / "m"))
    assert code == 0, capsys.readouterr().err
    video, voice = load_bundle(tmp_path / "m/stacker"), load_bundle(tmp_path / "m/voice")
    assert voice.feature_names == ("aud_mean", "has_audio")
    assert {"aud_mean", "aud_q90"} <= set(video.feature_names)  # the video stacker keeps its columns
    report = json.loads((tmp_path / "m/voice/report.json").read_text())
    assert report["fit"]["voice_columns"] == ["aud_mean", "has_audio"] and report["fit"]["monotone"] == "evidence"
    assert fit_voice(speech, "--voice-family-balance", "1", "-o", str(tmp_path / "b")) == 0
    assert json.loads((tmp_path / "b/voice/report.json").read_text())["fit"]["family_balance"] == 1.0
    assert json.loads((tmp_path / "b/stacker/report.json").read_text())["fit"]["family_balance"] == 0.0
    assert report["verdicts"]["audio"]["n"] > 0  # its voice verdict reads the columns it keeps
    assert fit_voice(speech, "--voice-columns", "vis_main_*", "-o", str(tmp_path / "n")) == 2
    assert "--voice-columns vis_main_*: matches none" in capsys.readouterr().err
    assert without_voice_folds(speech, tmp_path, "--voice-columns", "aud_mean") == 2
    assert "--voice-columns needs --voice-folds" in capsys.readouterr().err


def test_a_voice_score_is_calibrated_without_trees(speech, tmp_path, capsys):
    code = fit_voice(speech, "--voice-columns", "aud_mean,has_audio", "--voice-score", "aud_mean",
                     "-o", str(tmp_path / "m"))
    assert code == 0, capsys.readouterr().err
    voice, video = load_bundle(tmp_path / "m/voice"), load_bundle(tmp_path / "m/stacker")
    assert voice.stacker.booster_ is None and voice.stacker.score_column == "aud_mean"
    assert video.stacker.booster_ is not None and video.stacker.score_column is None
    assert json.loads((tmp_path / "m/voice/report.json").read_text())["fit"]["score_column"] == "aud_mean"
    assert fit_voice(speech, "--voice-score", "voice_embed_logit", "-o", str(tmp_path / "n")) == 2
    assert "--voice-score voice_embed_logit: matches none" in capsys.readouterr().err
    assert without_voice_folds(speech, tmp_path, "--voice-score", "aud_mean") == 2
    assert "--voice-score needs --voice-folds" in capsys.readouterr().err


def test_voice_bands_by_speech_hold_the_error_in_each_bin(speech, tmp_path, capsys):
    code = fit_voice(speech, "--voice-columns", "aud_mean,has_audio", "--voice-bands-by", "n_windows:6.5",
                     "--max-error", "0.3", "-o", str(tmp_path / "m"))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "verdicts by n_windows, each bin held to 30%, classes weighed equally within it:" in out
    assert "n_windows under 6.5 (90): real below" in out and "n_windows 6.5 or more (18): real below" in out
    voice, video = load_bundle(tmp_path / "m/voice"), load_bundle(tmp_path / "m/stacker")
    assert video.binned is None and voice.binned.column == "n_windows" and voice.binned.edges == (6.5,)
    few, many = voice.binned.bands
    report = json.loads((tmp_path / "m/voice/report.json").read_text())
    assert report["fit"]["bands_by"] == {"column": "n_windows", "edges": [6.5]}
    assert [b["n"] for b in report["decision_by"]["bands"]] == [few.n, many.n]
    assert few.n + many.n == report["decision"]["n"]
    for band in (few, many):
        assert np.isnan(band.fake_error) or band.fake_error <= 0.3
    assert fit_voice(speech, "--voice-bands-by", "speech_seconds:2", "-o", str(tmp_path / "n")) == 2
    assert "--voice-bands-by speech_seconds: not a column" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        fit_voice(speech, "--voice-bands-by", "speech_s:6,2", "-o", str(tmp_path / "n"))
    assert "give COLUMN:EDGES" in capsys.readouterr().err
    assert without_voice_folds(speech, tmp_path, "--voice-bands-by", "speech_s:2") == 2
    assert "--voice-bands-by needs --voice-folds" in capsys.readouterr().err


def test_voice_folds_need_a_manifest_and_rows_without_a_face(runs, speech, tmp_path, capsys):
    assert main(["fit-stacker", "--oof", str(speech["runs"]), "--folds", str(speech["folds"]),
                 "--voice-folds", str(speech["all_folds"]), "-o", str(tmp_path / "a")]) == 2
    assert "--voice-folds needs --manifest" in capsys.readouterr().err
    assert without_voice_folds(speech, tmp_path, "--voice-only", "aud_q*") == 2
    assert "--voice-only needs --voice-folds" in capsys.readouterr().err
    assert main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
                 "--voice-folds", str(runs["folds"]), "--manifest", str(runs["manifest"]),
                 "-o", str(tmp_path / "b")]) == 2
    assert "without a face" in capsys.readouterr().err
