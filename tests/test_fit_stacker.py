"""`avdetect fit-stacker` on a synthetic runs folder written in the branches' OOF formats."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avdetect.cli import main
from avdetect.corpus.folds import assign_folds, write_folds
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, write_manifest
from stacking.aggregate import build_feature_table
from stacking.bundle import load_bundle
from stacking.tables import read_frame_scores, read_sync_table, read_window_scores

OOF_HEADER = ["path", "track", "position", "time_s", "label", "fold", "probability"]


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header, *rows])


def make_runs(root: Path, n_groups: int = 30, seed: int = 0) -> dict[str, Path]:
    """manifest.csv, folds.csv and runs/{visual,audio,sync}: a real and a fake video per source;
    the fake swaps the second face or the voice."""
    rng = np.random.default_rng(seed)
    rows, kinds = [], {}
    for g in range(n_groups):
        for fake in (0, 1):
            kind = str(rng.choice(["face", "voice"])) if fake else "none"
            path = root / "data" / f"src{g:02d}_{fake}.mp4"
            rows.append(ManifestRow(path, FAKE if fake else REAL, f"src{g:02d}",
                                    video_label=FAKE if kind == "face" else REAL,
                                    audio_label=FAKE if kind == "voice" else REAL, dataset=f"set{g % 2}",
                                    family={"face": "swap", "voice": "clone"}.get(kind, "")))
            kinds[str(path)] = kind
    write_manifest(rows, root / "manifest.csv")
    folds = assign_folds(rows, n_splits=3, seed=0)
    write_folds(rows, folds, root / "folds.csv")
    visual, audio, sync = [], [], []
    for row, fold in zip(rows, folds):
        kind, path = kinds[str(row.path)], str(row.path)
        for track in range(2):
            p = rng.beta(6, 2, 8) if (kind == "face" and track == 1) else rng.beta(2, 5, 8)
            visual += [[path, track, 3 * i, 0.12 * i, int(kind == "face"), fold, f"{q:.4f}"]
                       for i, q in enumerate(p)]
        p = rng.beta(6, 2, 4) if kind == "voice" else rng.beta(2, 5, 4)
        audio += [[path, -1, i, float(i), int(kind == "voice"), fold, f"{q:.4f}"] for i, q in enumerate(p)]
        sync.append([path, f"{rng.normal(0.2 if kind == 'voice' else 0.0, 0.05):.4f}", f"{rng.random():.3f}"])
    _write_csv(root / "runs" / "visual" / "oof.csv", OOF_HEADER, visual)
    _write_csv(root / "runs" / "audio" / "oof.csv", OOF_HEADER, audio)
    _write_csv(root / "runs" / "sync" / "features.csv", ["path", "best_lag_s", "peak"], sync)
    return {"root": root, "manifest": root / "manifest.csv", "folds": root / "folds.csv",
            "runs": root / "runs"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("stacker"))


@pytest.fixture(scope="module")
def fitted(runs):
    out = runs["root"] / "model"
    code = main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
                 "--manifest", str(runs["manifest"]), "-o", str(out)])
    assert code == 0
    return out / "stacker"


def test_writes_bundle_report_and_oof(fitted):
    for name in ("booster.txt", "calibrator.json", "verdicts.json", "config.json", "manifest.json",
                 "report.json", "oof.csv", "roc.png", "reliability.png", "importance.png"):
        assert (fitted / name).is_file(), name
    report = json.loads((fitted / "report.json").read_text())
    assert report["metrics"]["stacker"]["n"] == 60
    # Voice fakes are invisible to the frame mean; the stacker sees them through the audio features.
    assert report["metrics"]["stacker"]["auc"] > report["metrics"]["frame_mean"]["auc"] + 0.1
    assert set(report["by_group"]) == {"dataset", "modality", "family"}
    assert set(report["by_group"]["family"]) == {"real", "swap", "clone"}
    assert report["fit"] == {"seed": 0, "balance": 0.5, "family_balance": 0.0, "calibration": "auto",
                             "max_error": 0.05, "drop_features": [], "voice_only": [], "voice_columns": [],
                             "booster": {}, "monotone": "evidence", "score_column": None,
                             "bands_by": None}
    assert report["verdicts"]["audio"]["auc"] > 0.8
    with Image.open(fitted / "reliability.png") as image:
        assert image.format == "PNG"


def test_prints_stacker_against_the_baseline(runs, tmp_path, capsys):
    code = main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
                 "--manifest", str(runs["manifest"]), "-o", str(tmp_path), "--calibration", "platt"])
    out = capsys.readouterr().out
    assert code == 0
    assert "frame mean (baseline)" in out and "stacker" in out and "calibration: platt" in out
    assert "60 videos (30 fake)" in out and "p_audio" in out


def test_loaded_bundle_scores_like_the_fit(runs, fitted):
    bundle = load_bundle(fitted)
    table = build_feature_table(read_frame_scores(runs["runs"] / "visual" / "oof.csv"),
                                read_window_scores(runs["runs"] / "audio" / "oof.csv"),
                                read_sync_table(runs["runs"] / "sync" / "features.csv"),
                                config=bundle.aggregate)
    assert table.names == bundle.feature_names
    verdicts = bundle.stacker.predict_verdicts(table.X)
    assert ((verdicts.p_fake > 0) & (verdicts.p_fake < 1)).all()
    with (fitted / "oof.csv").open(newline="") as f:
        oof = list(csv.DictReader(f))
    assert [r["path"] for r in oof] == table.videos.tolist()
    assert {"fold", "label", "p_fake", "p_visual", "p_audio", "p_sync", "frame_mean"} <= set(oof[0])


def test_labels_from_the_score_files_without_a_manifest(runs, tmp_path, capsys):
    code = main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
                 "-o", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    assert "60 videos (30 fake)" in capsys.readouterr().out


def test_input_errors_exit_2(runs, tmp_path, capsys):
    assert main(["fit-stacker", "--oof", str(tmp_path), "--folds", str(runs["folds"]),
                 "-o", str(tmp_path / "m")]) == 2
    assert "no score file" in capsys.readouterr().err
    other = tmp_path / "folds.csv"
    other.write_text("path,group,fold\n/elsewhere/x.mp4,g,0\n")
    assert main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(other),
                 "-o", str(tmp_path / "m")]) == 2
    assert "folds file" in capsys.readouterr().err


def test_family_balance_is_fitted_and_recorded(runs, tmp_path, capsys):
    code = main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
                 "--manifest", str(runs["manifest"]), "-o", str(tmp_path / "m"), "--family-balance", "1"])
    assert code == 0, capsys.readouterr().err
    assert json.loads((tmp_path / "m/stacker/report.json").read_text())["fit"]["family_balance"] == 1.0
    assert main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),  # no manifest
                 "-o", str(tmp_path / "n"), "--family-balance", "1"]) == 2
    assert "needs each video's family" in capsys.readouterr().err


def test_booster_settings_are_fitted_and_recorded(runs, tmp_path, capsys):
    code = main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
                 "--manifest", str(runs["manifest"]), "-o", str(tmp_path / "m"),
                 "--booster", "num_leaves=3,max_depth=3,learning_rate=0.05", "--booster", "max_depth=2"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "m/stacker/report.json").read_text())
    assert report["fit"]["booster"] == {"num_leaves": 3, "max_depth": 2, "learning_rate": 0.05}  # the later wins
    assert "[num_leaves: 3]" in (tmp_path / "m/stacker/booster.txt").read_text()


@pytest.mark.parametrize("text", ["leaves=3", "num_leaves", "num_leaves=three", "num_leaves=2.5"])
def test_booster_settings_that_are_not_lightgbm_settings_exit_2(runs, tmp_path, capsys, text):
    with pytest.raises(SystemExit) as stop:
        main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
              "-o", str(tmp_path / "m"), "--booster", text])
    assert stop.value.code == 2
    assert "--booster" in capsys.readouterr().err and not (tmp_path / "m").exists()
