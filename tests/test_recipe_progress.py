"""data/shipped/progress.sh: the recipe's finished stages carried between machines, only onto the same inputs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "shipped" / "progress.sh"


def work_dir(root: Path, folds: str = "path,fold\na.mp4,0\n") -> Path:
    (root / "runs/visual/refit").mkdir(parents=True)
    (root / "all.csv").write_text("path,label\na.mp4,REAL\n")
    (root / "folds.csv").write_text(folds)
    (root / "runs/visual/oof.csv").write_text("path,probability\na.mp4,0.2\n")
    (root / "runs/visual/metrics.json").write_text("{}")
    (root / "runs/visual/refit/model.json").write_text('{"w": 1}')
    return root


def progress(action: str, w: Path, store: Path, stage: str = "visual", key: str = "epochs=6") -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), action, str(w), stage, key], env={"PROGRESS_DIR": str(store),
                          "PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)


def test_a_saved_stage_is_restored_onto_the_same_manifests(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert progress("save", work_dir(tmp_path / "w1"), store).returncode == 0
    assert (store / "visual/runs/visual/refit/model.json").is_file() and (store / "visual/STAMP").is_file()
    fresh = tmp_path / "w2"
    fresh.mkdir()
    (fresh / "all.csv").write_text("path,label\na.mp4,REAL\n")
    (fresh / "folds.csv").write_text("path,fold\na.mp4,0\n")
    done = progress("restore", fresh, store)
    assert done.returncode == 0, done.stderr
    assert (fresh / "runs/visual/oof.csv").read_text() == "path,probability\na.mp4,0.2\n"
    assert (fresh / "runs/visual/refit/model.json").read_text() == '{"w": 1}'


@pytest.mark.parametrize("change", ["folds", "key"])
def test_other_folds_or_settings_are_trained_again(tmp_path: Path, change: str) -> None:
    store = tmp_path / "store"
    progress("save", work_dir(tmp_path / "w1"), store)
    other = work_dir(tmp_path / "w2", folds="path,fold\na.mp4,1\n" if change == "folds" else "path,fold\na.mp4,0\n")
    (other / "runs/visual/oof.csv").write_text("mine")
    done = progress("restore", other, store, key="epochs=9" if change == "key" else "epochs=6")
    assert done.returncode == 1 and "training visual again" in done.stderr
    assert (other / "runs/visual/oof.csv").read_text() == "mine"


def test_nothing_saved_or_an_unknown_stage(tmp_path: Path) -> None:
    w = work_dir(tmp_path / "w")
    assert progress("restore", w, tmp_path / "empty").returncode == 1
    unknown = progress("save", w, tmp_path / "store", stage="faces")
    assert unknown.returncode == 2 and "unknown stage" in unknown.stderr
