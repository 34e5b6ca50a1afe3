"""`avdetect train visual` end to end: manifest, folds and extraction cache in; models, OOF, report out."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from avdetect.cli import main
from avdetect.corpus.cache import INDEX_NAME, cache_key, save_perception
from avdetect.corpus.folds import assign_folds, write_folds
from avdetect.corpus.manifest import ManifestRow, write_manifest
from avdetect.records import Clip, Faces, FaceTrack, MediaInfo, Perception

N_VIDEOS, SIZE = 12, 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def perception(path: Path, n_faces: int, seed: int) -> Perception:
    rng = np.random.default_rng(seed)
    tracks = tuple(_track(i, rng) for i in range(n_faces))
    info = MediaInfo(str(path), "mov,mp4", 1.0, 1000, True, False, 64, 64, 25.0)
    clip = Clip(info, np.zeros((0, 0, 0, 3), np.uint8), np.arange(4) / 25.0, np.zeros(0, np.float32), 16000)
    return Perception(clip=clip, faces=Faces(tracks, 4, np.arange(4), 1.0), audio=None)


def _track(track_id: int, rng: np.random.Generator) -> FaceTrack:
    n = 4
    box = np.array([[16, 16, 48, 48]], np.float32)
    marks = np.array([[[26, 28], [38, 28], [32, 34], [27, 40], [37, 40]]], np.float32)
    return FaceTrack(track_id, np.arange(n), np.arange(n) / 25.0, np.repeat(box, n, 0), np.repeat(marks, n, 0),
                     np.ones(n, np.float32), np.ones(n, bool), np.repeat(np.array([[5, 5, 59, 59]], np.float32), n, 0),
                     rng.integers(0, 256, (n, SIZE, SIZE, 3), dtype=np.uint8))


def make_inputs(root: Path) -> tuple[Path, Path, Path]:
    """A manifest of N_VIDEOS real videos (the last one without a face), its folds, and their cache."""
    rows = [ManifestRow(root / f"v{i}.mp4", "REAL", f"g{i}") for i in range(N_VIDEOS)]
    cache = root / "cache"
    cache.mkdir()
    index = [["path", "key", "status", "n_tracks", "n_frames", "n_windows", "seconds"]]
    for i, row in enumerate(rows):
        key = cache_key(row.path)
        save_perception(cache / f"{key}.npz", perception(row.path, int(i < N_VIDEOS - 1), seed=i))
        index.append([str(row.path), key, "ok", 1, 4, 0, "0.1"])
    with (cache / INDEX_NAME).open("w", newline="") as f:
        csv.writer(f).writerows(index)
    write_manifest(rows, root / "manifest.csv")
    write_folds(rows, assign_folds(rows, n_splits=3), root / "folds.csv")
    return root / "manifest.csv", root / "folds.csv", cache


def run_cli(argv: list[str]) -> int:
    return main(argv)  # the CLI's one error edge turns typed errors into exit status 2


def test_train_visual_writes_fold_models_oof_and_refit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest, folds, cache = make_inputs(tmp_path)
    out = tmp_path / "runs" / "visual"
    code = run_cli(["train", "visual", "--manifest", str(manifest), "--folds", str(folds), "--cache", str(cache),
                    "-o", str(out), "--backbone", "test_efficientnet", "--input-size", str(SIZE), "--no-pretrained",
                    "--quick", "--refit", "--batch-size", "8", "--p-pseudo", "0.5"])
    assert code == 0
    assert sorted(p.name for p in out.glob("fold*/model.*")) == ["model.json"] * 3 + ["model.safetensors"] * 3
    with (out / "oof.csv").open() as f:
        oof = list(csv.DictReader(f))
    assert len({r["path"] for r in oof}) == N_VIDEOS - 1 and len(oof) == 4 * (N_VIDEOS - 1)
    assert (out / "refit" / "model.json").is_file() and (out / "curves.png").is_file()
    assert json.loads((out / "train_config.json").read_text())["backbone"] == "test_efficientnet"
    assert "oof video" in capsys.readouterr().out


def test_train_reports_a_missing_cache_entry_as_an_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    manifest, folds, cache = make_inputs(tmp_path)
    (cache / INDEX_NAME).write_text("path,key,status,n_tracks,n_frames,n_windows,seconds\n")
    code = run_cli(["train", "visual", "--manifest", str(manifest), "--folds", str(folds), "--cache", str(cache),
                    "-o", str(tmp_path / "out"), "--backbone", "test_efficientnet", "--no-pretrained", "--quick"])
    assert code == 2 and "no face crops" in capsys.readouterr().err


def test_no_folds_without_refit_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code = run_cli(["train", "visual", "--manifest", "m.csv", "--folds", "f.csv", "--cache", "c", "-o",
                    str(tmp_path), "--no-folds"])
    assert code == 2 and "trains nothing" in capsys.readouterr().err


def test_extra_real_faces_train_every_fold_and_are_never_scored(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from avdetect.corpus.face_images import FaceImages

    manifest, folds, cache = make_inputs(tmp_path)
    rng = np.random.default_rng(0)
    marks = np.array([[26, 28], [38, 28], [32, 34], [27, 40], [37, 40]], np.float32)
    faces = FaceImages(np.array([f"chip{i}.jpg" for i in range(6)]),
                       rng.integers(0, 256, (6, SIZE, SIZE, 3), dtype=np.uint8), np.repeat(marks[None], 6, 0))
    faces.save(tmp_path / "faces.npz")
    out = tmp_path / "runs" / "visual"
    args = ["train", "visual", "--manifest", str(manifest), "--folds", str(folds), "--cache", str(cache),
            "-o", str(out), "--backbone", "test_efficientnet", "--input-size", str(SIZE), "--no-pretrained",
            "--quick", "--batch-size", "8", "--extra-reals", str(tmp_path / "faces.npz")]
    assert run_cli(args) == 0, capsys.readouterr().err
    with (out / "oof.csv").open() as f:
        oof = list(csv.DictReader(f))
    assert len(oof) == 4 * (N_VIDEOS - 1) and not any("chip" in r["path"] for r in oof)
    assert sorted(p.name for p in out.glob("fold*")) == ["fold0", "fold1", "fold2"]
    FaceImages(faces.names, faces.crops[:, :16, :16], faces.landmarks).save(tmp_path / "small.npz")
    args[-1] = str(tmp_path / "small.npz")
    assert run_cli(args) == 2 and "16 px crops" in capsys.readouterr().err
