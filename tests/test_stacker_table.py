"""The stacker's training table: saved by fit-stacker, read back whole, and refitted into a new bundle."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from avdetect.branches.checkpoint import sha256
from avdetect.bundle import BUNDLE_FILE, load_bundle, shipped_model_dir
from avdetect.cli import main
from avdetect.errors import ModelFileError
from avdetect.training.stacker_data import TrainingData, load_training_data
from avdetect.training.stacker_table import TABLE_FILE, load_table, save_table
from stacking.records import FeatureTable
from test_fit_stacker import make_runs


def test_fit_stacker_keeps_the_table_it_learnt_from(tmp_path):
    runs = make_runs(tmp_path, n_groups=12)
    assert main(["fit-stacker", "--oof", str(runs["runs"]), "--folds", str(runs["folds"]),
                 "--manifest", str(runs["manifest"]), "-o", str(tmp_path / "model")]) == 0
    saved = load_table(tmp_path / "model" / "stacker" / TABLE_FILE)
    fresh = load_training_data(runs["runs"], runs["folds"], runs["manifest"])
    assert saved.table.names == fresh.table.names and saved.table.videos.tolist() == fresh.table.videos.tolist()
    np.testing.assert_array_equal(saved.table.X, fresh.table.X)
    np.testing.assert_array_equal(saved.y, fresh.y)
    np.testing.assert_array_equal(saved.folds, fresh.folds)
    assert saved.modality_labels.keys() == fresh.modality_labels.keys()
    for key, labels in fresh.modality_labels.items():
        np.testing.assert_array_equal(saved.modality_labels[key], labels)
    assert saved.groups.keys() == fresh.groups.keys() and saved.sources == fresh.sources
    np.testing.assert_array_equal(saved.sources_of_rows, fresh.sources_of_rows)


def _table_for(names: tuple[str, ...], n: int = 90, seed: int = 0) -> TrainingData:
    """Videos with the shipped stacker's columns in [0, 1] (frame_mean is a probability); the fakes' first
    columns are higher."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = (rng.random((n, len(names))) + y[:, None] * np.r_[np.ones(5), np.zeros(len(names) - 5)]) / 2
    X[rng.random(X.shape) < 0.05] = np.nan  # missing modalities
    labels = {"visual": y, "audio": np.where(np.arange(n) % 3 == 0, -1, y), "sync": np.full(n, -1)}
    return TrainingData(table=FeatureTable(np.array([f"/v/{i:03d}.mp4" for i in range(n)]), X, names),
                        y=y.astype(np.int64), folds=(np.arange(n) // 2 % 3).astype(np.int64), modality_labels=labels,
                        groups={"dataset": np.array(["a", "b"] * (n // 2))},
                        sources_of_rows=np.array([f"g{i // 2}" for i in range(n)]), sources={"visual": "oof.csv"})


def record_files(model: Path, paths) -> None:
    """Lists the files `paths` (inside `model`) with their sha256 in its bundle.json."""
    manifest = json.loads((model / BUNDLE_FILE).read_text())
    manifest["files"].update({p.relative_to(model).as_posix(): sha256(p) for p in paths})
    (model / BUNDLE_FILE).write_text(json.dumps(manifest))


def put_table(model: Path, data: TrainingData) -> None:
    """Writes `data` as `model`'s stacker table and records its sha256 in bundle.json."""
    record_files(model, [save_table(data, model / "stacker" / TABLE_FILE)])


@pytest.fixture
def model_with_table(tmp_path: Path) -> Path:
    """A copy of the shipped model with a training table of random rows in its stacker's columns."""
    model = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), model)
    put_table(model, _table_for(load_bundle(model).spec.features))
    return model


def add_block_weights(model: Path) -> None:
    """Gives `model` the weights folder of a block with its own net (`model/sync/`, as a bundle whose spec
    reads `sync_learnt` carries), listed in bundle.json."""
    from avdetect.branches.sync import SyncNet, save_sync_model

    save_sync_model(SyncNet(), model / "sync")
    record_files(model, (model / "sync").iterdir())


def test_from_model_refits_and_bundles_with_its_branches(model_with_table, tmp_path, capsys):
    from avdetect.scoring.pipeline import Detector

    add_block_weights(model_with_table)
    new = tmp_path / "refit"
    assert main(["fit-stacker", "--from-model", str(model_with_table), "-o", str(new), "--max-error", "0.3",
                 "--seed", "1"]) == 0, capsys.readouterr().err
    assert "90 videos (45 fake)" in capsys.readouterr().out
    old, refit = load_bundle(model_with_table), load_bundle(new)
    assert refit.spec.features == old.spec.features and refit.spec.perception == old.spec.perception
    assert refit.card["refitted_from"] == str(model_with_table)
    assert (new / "sync" / "sync.safetensors").is_file()  # block weights travel with the spec
    assert (new / "stacker" / TABLE_FILE).is_file()  # and the table, for the next refit
    assert refit.voice == new / "voice" and (new / "voice" / "booster.txt").is_file()  # as does the voice stacker
    assert Detector.load(new).stacker.band.max_error == pytest.approx(0.3)


def test_from_model_without_a_block_neither_fits_nor_scores_it(model_with_table, tmp_path, capsys):
    from avdetect.scoring.pipeline import Detector

    new = tmp_path / "refit"
    assert main(["fit-stacker", "--from-model", str(model_with_table), "-o", str(new),
                 "--drop-features", "face_spectrum_*,face_motion_eye_var,voice_embed_*"]) == 0, capsys.readouterr().err
    old, refit = load_bundle(model_with_table), load_bundle(new)
    dropped = [*(n for n in old.spec.features if n.startswith(("face_spectrum_", "voice_embed_"))),
               "face_motion_eye_var"]
    assert refit.spec.features == tuple(n for n in old.spec.features if n not in dropped)
    assert "face_motion" in refit.spec.extractors  # other columns of it are still read
    assert "face_spectrum" not in refit.spec.extractors  # no stacker reads it (the voice stacker reads the voice)
    assert old.voice is not None and refit.voice is not None  # the voice stacker is kept, with its columns,
    assert "voice_embed" in refit.spec.extractors  # so the spec still makes the block only it reads now
    assert (new / "voice_embed" / "head.json").is_file()  # with the block's weights
    from avdetect.bundle import assemble_bundle
    from avdetect.training.stacker import rebundle
    from avdetect.training.stacker_data import drop_features

    alone = tmp_path / "alone"  # without a voice stacker, a block no stacker reads is not run
    shutil.copytree(new / "stacker", alone / "stacker")
    rebundle(alone, dataclasses.replace(old, voice=None), drop_features(load_table(old.stacker / TABLE_FILE),
                                                                        ["face_spectrum_*", "voice_embed_*"]))
    assert "voice_embed" not in load_bundle(alone).spec.extractors
    assemble_bundle(tmp_path / "mixed", stacker=new / "stacker", spec=load_bundle(alone).spec, visual=old.visual,
                    audio=old.audio, voice=old.voice)  # a voice stacker reading columns the spec does not make
    with pytest.raises(ModelFileError, match="voice stacker: expects voice_embed_"):
        Detector.load(tmp_path / "mixed")
    assert Detector.load(new).bundle.spec.extractors == refit.spec.extractors
    assert main(["fit-stacker", "--from-model", str(model_with_table), "-o", str(tmp_path / "x"),
                 "--drop-features", "nothing_*"]) == 2
    assert "matches none" in capsys.readouterr().err
    assert main(["fit-stacker", "--from-model", str(model_with_table), "-o", str(tmp_path / "x"),
                 "--drop-features", "vis_*"]) == 2
    assert "baseline" in capsys.readouterr().err


def test_from_model_input_errors_exit_2(model_with_table, tmp_path, capsys):
    assert main(["fit-stacker", "--from-model", str(model_with_table), "-o", str(model_with_table)]) == 2
    assert "new folder" in capsys.readouterr().err
    assert main(["fit-stacker", "--from-model", str(model_with_table), "--oof", str(tmp_path), "-o",
                 str(tmp_path / "x")]) == 2
    assert "drop --oof" in capsys.readouterr().err
    assert main(["fit-stacker", "-o", str(tmp_path / "x")]) == 2
    assert "--from-model" in capsys.readouterr().err
    calibrator = model_with_table / "stacker" / "calibrator.json"
    kept = calibrator.read_bytes()
    calibrator.write_text("{}")  # a damaged bundle: refused before anything is written
    assert main(["fit-stacker", "--from-model", str(model_with_table), "-o", str(tmp_path / "y")]) == 2
    assert "sha256 differs" in capsys.readouterr().err and not (tmp_path / "y").exists()
    calibrator.write_bytes(kept)
    (model_with_table / "stacker" / TABLE_FILE).unlink()  # a bundle made before tables were kept:
    manifest = json.loads((model_with_table / BUNDLE_FILE).read_text())
    del manifest["files"][f"stacker/{TABLE_FILE}"]
    (model_with_table / BUNDLE_FILE).write_text(json.dumps(manifest))
    assert main(["fit-stacker", "--from-model", str(model_with_table), "-o", str(tmp_path / "x")]) == 2
    assert "no stacker training table" in capsys.readouterr().err


def test_a_damaged_table_is_a_model_file_error(tmp_path):
    (tmp_path / TABLE_FILE).write_bytes(b"not an npz")
    with pytest.raises(ModelFileError, match="not a stacker training table"):
        load_table(tmp_path / TABLE_FILE)


def test_faceless_inputs_benchmark_scores_the_rows_without_a_face(model_with_table, tmp_path, capsys):
    import csv

    from bench_scripts import load_benchmark

    names = load_bundle(model_with_table).spec.features
    data = _table_for(names)
    data.table.X[::3, names.index("has_face")] = 0.0
    save_table(data, tmp_path / "table.npz")
    load_benchmark("faceless_inputs").main(["--model", str(model_with_table), "--table",
                                            str(tmp_path / "table.npz"), "-o", str(tmp_path / "f.csv")])
    with (tmp_path / "f.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == data.table.videos[::3].tolist()
    assert all(0 <= float(r["p_fake"]) <= 1 for r in rows)
    assert "rows without a face" in capsys.readouterr().out
