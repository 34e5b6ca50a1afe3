"""`avdetect evaluate SCORES --manifest M`: metrics overall, by dataset and modality labels; reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avdetect.cli import main
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, write_manifest


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    rows = [
        ManifestRow(tmp_path / "r1.mp4", REAL, "a", video_label=REAL, audio_label=REAL, dataset="fakeav"),
        ManifestRow(tmp_path / "f1.mp4", FAKE, "a", video_label=FAKE, audio_label=REAL, dataset="fakeav"),
        ManifestRow(tmp_path / "f2.mp4", FAKE, "b", video_label=REAL, audio_label=FAKE, dataset="fakeav"),
        ManifestRow(tmp_path / "r2.mp4", REAL, "c", dataset="dfdc"),
        ManifestRow(tmp_path / "f3.mp4", FAKE, "c", dataset="dfdc"),
        ManifestRow(tmp_path / "unscored.mp4", FAKE, "d", dataset="dfdc"),
    ]
    write_manifest(rows, tmp_path / "manifest.csv")
    return tmp_path / "manifest.csv"


def _scores(path: Path, text: str) -> Path:
    path.write_text(text.strip() + "\n", encoding="utf-8")
    return path


def test_metrics_and_report_files(tmp_path, manifest, capsys):
    scores = _scores(tmp_path / "scores.csv", """
path,p_fake,p_visual,p_audio,p_sync,status
r1.mp4,0.1,0.1,0.2,0.3,ok
f1.mp4,0.9,0.8,0.1,0.6,ok
f2.mp4,0.7,0.2,0.9,0.4,ok
r2.mp4,0.2,0.3,,,ok
f3.mp4,0.6,0.7,,,ok
elsewhere.mp4,0.5,,,,ok
""")
    out = tmp_path / "report"
    assert main(["evaluate", str(scores), "--manifest", str(manifest), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "5 scored files" in printed and "by dataset" in printed and "video=FAKE audio=REAL" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    overall = metrics["overall"]
    assert overall["p_fake"]["auc"] == 1.0 and overall["p_fake"]["accuracy"] == 1.0
    assert overall["p_fake"]["eer"] == 0.0 and overall["p_fake"]["n"] == 5
    # Each verdict is scored on the files whose own label is known.
    assert overall["p_visual vs video_label"]["n"] == 3 and overall["p_visual vs video_label"]["auc"] == 1.0
    assert overall["p_audio vs audio_label"]["n"] == 3 and overall["p_audio vs audio_label"]["n_fake"] == 1
    assert overall["p_sync vs label"]["n"] == 3 and overall["p_sync vs label"]["n_missing"] == 2
    assert metrics["p_fake by dataset"]["dfdc"]["n"] == 2
    assert metrics["p_fake by modality labels"]["video=? audio=?"]["n"] == 2
    assert (out / "roc.png").stat().st_size > 0 and (out / "reliability.png").stat().st_size > 0


def test_bad_scores_exit_2(tmp_path, manifest, capsys):
    no_column = _scores(tmp_path / "a.csv", "path,score\nr1.mp4,0.5\n")
    assert main(["evaluate", str(no_column), "--manifest", str(manifest)]) == 2
    assert "missing column(s) p_fake" in capsys.readouterr().err
    logits = _scores(tmp_path / "b.csv", "path,p_fake\nr1.mp4,2.5\n")
    assert main(["evaluate", str(logits), "--manifest", str(manifest)]) == 2
    assert "probability" in capsys.readouterr().err
    strangers = _scores(tmp_path / "c.csv", "path,p_fake\n/nowhere/x.mp4,0.5\n")
    assert main(["evaluate", str(strangers), "--manifest", str(manifest)]) == 2
    assert "none of the 1 scored paths" in capsys.readouterr().err
