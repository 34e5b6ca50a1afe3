"""data/shipped/progress.sh: the recipe's stages carried between machines, only onto the same inputs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "data" / "shipped" / "progress.sh"
FOLDS = "path,fold\na.mp4,0\n"


def work_dir(root: Path, folds: str = FOLDS, finished: bool = True) -> Path:
    """A WORK_DIR whose visual branch finished two folds, and its refit when `finished`."""
    root.mkdir(parents=True)
    (root / "all.csv").write_text("path,label\na.mp4,REAL\n")
    (root / "folds.csv").write_text(folds)
    for k in (0, 1):
        fold = root / f"runs/visual/fold{k}"
        fold.mkdir(parents=True)
        for name in ("predictions.npz", "curves.json", "model.json", "model.safetensors"):
            (fold / name).write_text(f"{name} {k}")
    (root / "runs/visual/fold2").mkdir()
    (root / "runs/visual/fold2/state.json").write_text("{}")  # a fold cut short: not kept
    if finished:
        (root / "runs/visual/refit").mkdir()
        (root / "runs/visual/oof.csv").write_text("path,probability\na.mp4,0.2\n")
        (root / "runs/visual/metrics.json").write_text("{}")
        (root / "runs/visual/train_config.json").write_text('{"frames_per_track": 8}')
        for name in ("model.json", "model.safetensors", "samples.npz"):
            (root / "runs/visual/refit" / name).write_text(name)
    return root


def fresh(root: Path, folds: str = FOLDS) -> Path:
    root.mkdir()
    (root / "all.csv").write_text("path,label\na.mp4,REAL\n")
    (root / "folds.csv").write_text(folds)
    return root


def progress(action: str, w: Path, store: Path, stage: str = "visual", key: str = "epochs=6",
             **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), action, str(w), stage, key], env={"PROGRESS_DIR": str(store),
                          "PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True, timeout=60)


def test_a_finished_stage_is_restored_onto_the_same_manifests(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert progress("save", work_dir(tmp_path / "w1"), store).returncode == 0
    kept = {p.relative_to(store / "visual").as_posix() for p in (store / "visual").rglob("*") if p.is_file()}
    assert kept == {"STAMP", "runs/visual/oof.csv", "runs/visual/metrics.json", "runs/visual/refit/model.json",
                    "runs/visual/refit/model.safetensors", "runs/visual/refit/samples.npz",
                    "runs/visual/train_config.json"}  # its crops per track reach the bundle's spec
    w2 = fresh(tmp_path / "w2")
    done = progress("restore", w2, store)
    assert done.returncode == 0, done.stderr
    assert (w2 / "runs/visual/oof.csv").read_text() == "path,probability\na.mp4,0.2\n"
    assert (w2 / "runs/visual/refit/model.safetensors").read_text() == "model.safetensors"


def test_a_stage_cut_short_keeps_its_finished_folds_without_weights(tmp_path: Path) -> None:
    store = tmp_path / "store"
    saved = progress("save", work_dir(tmp_path / "w1", finished=False), store)
    assert "2 finished fold(s)" in saved.stdout
    w2 = fresh(tmp_path / "w2")
    done = progress("restore", w2, store)
    assert done.returncode == 1 and "training the rest" in done.stdout  # the recipe trains on from here
    assert sorted(p.name for p in (w2 / "runs/visual/fold1").iterdir()) == ["curves.json", "model.json",
                                                                            "predictions.npz"]
    assert not (w2 / "runs/visual/fold2").exists()


@pytest.mark.parametrize("change", ["folds", "key"])
def test_other_folds_or_settings_are_trained_again(tmp_path: Path, change: str) -> None:
    store = tmp_path / "store"
    progress("save", work_dir(tmp_path / "w1"), store)
    other = fresh(tmp_path / "w2", folds="path,fold\na.mp4,1\n" if change == "folds" else FOLDS)
    done = progress("restore", other, store, key="epochs=9" if change == "key" else "epochs=6")
    assert done.returncode == 1 and "training visual again" in done.stderr
    assert not (other / "runs").exists()


def test_a_stage_saved_with_other_settings_is_kept_unless_replaced(tmp_path: Path) -> None:
    store = tmp_path / "store"
    progress("save", work_dir(tmp_path / "w1"), store)
    tried = work_dir(tmp_path / "w2")
    (tried / "runs/visual/oof.csv").write_text("path,probability\na.mp4,0.9\n")
    kept = progress("save", tried, store, key="epochs=6 pairs=every-fake")
    assert kept.returncode == 0 and "is not saved over it" in kept.stderr
    assert (store / "visual/runs/visual/oof.csv").read_text().endswith("0.2\n")  # the saved stage stays
    assert progress("save", tried, store, key="epochs=6 pairs=every-fake", PROGRESS_REPLACE="1").returncode == 0
    assert (store / "visual/runs/visual/oof.csv").read_text().endswith("0.9\n")
    assert progress("save", work_dir(tmp_path / "w3"), store, key="epochs=6 pairs=every-fake").returncode == 0
    assert (store / "visual/runs/visual/oof.csv").read_text().endswith("0.2\n")  # same settings: replaced


def test_nothing_saved_or_an_unknown_stage(tmp_path: Path) -> None:
    w = fresh(tmp_path / "w")
    assert progress("restore", w, tmp_path / "empty").returncode == 1
    assert "nothing of sync" in progress("save", w, tmp_path / "store", stage="sync").stdout
    unknown = progress("save", w, tmp_path / "store", stage="faces")
    assert unknown.returncode == 2 and "unknown stage" in unknown.stderr


def test_the_sync_stage_keeps_its_finished_fold_nets(tmp_path: Path) -> None:
    w = fresh(tmp_path / "w")
    for k, names in ((0, ("sync.json", "sync.safetensors", "last.json")), (1, ("last.json", "state.json"))):
        (w / f"runs/sync_folds/fold{k}/sync").mkdir(parents=True)
        for name in names:
            (w / f"runs/sync_folds/fold{k}/sync" / name).write_text(name)
    store = tmp_path / "store"
    assert "1 finished fold(s)" in progress("save", w, store, stage="sync").stdout
    assert sorted(p.name for p in (store / "sync/runs/sync_folds").rglob("*") if p.is_file()) == [
        "sync.json", "sync.safetensors"]
