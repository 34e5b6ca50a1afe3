"""The per-fold loop with the visual trainer: learning, OOF coverage, leak-proof folds, resume, refit."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from avdetect.branches.visual import VisualClassifier, VisualConfig
from avdetect.corpus.folds import FoldRow, align_folds
from avdetect.errors import ManifestError
from avdetect.training.epochs import TrainConfig
from avdetect.training.folds_loop import check_folds, refit, run_folds
from avdetect.training.visual import VisualTrainConfig, VisualTrainer
from avdetect.training.visual_augment import AugmentConfig
from avdetect.training.visual_data import CropSet

N_VIDEOS, FRAMES, SIZE = 60, 2, 32
LANDMARKS = np.array([[10, 12], [22, 12], [16, 17], [11, 23], [21, 23]], np.float32)


def patch_crops(seed: int = 0) -> CropSet:
    """Flat noisy 'faces'; every odd video is fake and carries a red, hard-edged patch (a bad blend)."""
    rng = np.random.default_rng(seed)
    images, labels, videos = [], [], []
    for v in range(N_VIDEOS):
        base = rng.integers(60, 200, 3)
        for _ in range(FRAMES):
            image = np.clip(base + rng.normal(0, 12, (SIZE, SIZE, 3)), 0, 255)
            if v % 2:
                y, x = rng.integers(4, 16, 2)
                image[y : y + 12, x : x + 12, 0] = np.clip(image[y : y + 12, x : x + 12, 0] + 70, 0, 255)
            images.append(image.astype(np.uint8))
            labels.append(v % 2)
            videos.append(f"/data/v{v:02d}.mp4")
    n = len(images)
    crops = CropSet.from_images(np.stack(images), np.tile(LANDMARKS, (n, 1, 1)), np.array(labels), videos=videos,
                                groups=[f"g{int(v[-6:-4]) // 2}" for v in videos])  # a fake shares its original's group
    return replace(crops, frames=np.tile(np.arange(FRAMES), N_VIDEOS))


def video_folds(crops: CropSet, k: int = 3) -> np.ndarray:
    return np.array([int(g[1:]) % k for g in crops.groups], np.int64)


def tiny_config(**train: object) -> VisualTrainConfig:
    return VisualTrainConfig(model=VisualConfig(backbone="test_efficientnet", input_size=SIZE), pretrained=False,
                             augment=None, p_pseudo=0.0, train=TrainConfig(**{"epochs": 10, "batch_size": 16,
                                                                              "lr": 3e-3, **train}))


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Recorder:
    """Wraps a trainer and remembers the rows of each fit, and the rows predicted after each fit."""

    def __init__(self, trainer: VisualTrainer):
        self.trainer, self.index, self.fits, self.predicted = trainer, trainer.index, [], []

    def fit(self, rows, **kwargs):
        self.fits.append(rows)
        self.predicted.append(set())
        return self.trainer.fit(rows, **kwargs)

    def predict(self, model, rows):
        self.predicted[-1].update(rows.tolist())
        return self.trainer.predict(model, rows)

    def save(self, model, directory):
        return self.trainer.save(model, directory)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Recorder, np.ndarray]:
    crops = patch_crops()
    out = tmp_path_factory.mktemp("run")
    recorder = Recorder(VisualTrainer(crops, tiny_config()))
    folds = video_folds(crops)
    return out, run_folds(recorder, folds, out_dir=out), recorder, folds


def read_oof(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_a_tiny_model_learns_the_blend_patch_out_of_fold(trained) -> None:
    _, metrics, _, _ = trained
    assert metrics.oof.auc > 0.8
    assert metrics.oof_video.n == N_VIDEOS


def test_oof_covers_every_video_exactly_once(trained) -> None:
    out, _, _, folds = trained
    rows = read_oof(out / "oof.csv")
    assert len(rows) == N_VIDEOS * FRAMES
    assert {(r["path"], r["position"]) for r in rows} == {(f"/data/v{v:02d}.mp4", str(f)) for v in range(N_VIDEOS)
                                                         for f in range(FRAMES)}
    fold_of = {}
    for r in rows:
        assert fold_of.setdefault(r["path"], r["fold"]) == r["fold"]
        assert 0.0 <= float(r["probability"]) <= 1.0


def test_held_out_groups_never_meet_training_groups(trained) -> None:
    _, _, recorder, folds = trained
    groups = recorder.index.groups
    assert len(recorder.fits) == 3
    for fit_rows, held in zip(recorder.fits, recorder.predicted):
        held_rows = np.array(sorted(held))
        assert not set(groups[fit_rows]) & set(groups[held_rows])
        assert len(set(folds[held_rows])) == 1 and folds[held_rows][0] not in set(folds[fit_rows])


def test_run_writes_models_metrics_and_curves(trained) -> None:
    out, metrics, _, _ = trained
    for k in range(3):
        assert VisualClassifier.load(out / f"fold{k}" / "model.json").config.backbone == "test_efficientnet"
        assert not (out / f"fold{k}" / "state.json").exists()
        curves = json.loads((out / f"fold{k}" / "curves.json").read_text())
        assert [c["epoch"] for c in curves] == list(range(1, 11)) and "heldout_auc" in curves[-1]
    assert json.loads((out / "metrics.json").read_text()) == metrics.to_json()
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_second_run_reuses_finished_folds(trained) -> None:
    out, metrics, recorder, folds = trained
    again = Recorder(recorder.trainer)
    assert run_folds(again, folds, out_dir=out) == metrics
    assert again.fits == []


def test_refit_trains_on_everything(tmp_path: Path) -> None:
    crops = patch_crops()
    recorder = Recorder(VisualTrainer(crops, tiny_config(quick=True)))
    path = refit(recorder, out_dir=tmp_path / "refit")
    assert len(recorder.fits[0]) == len(crops) and path == tmp_path / "refit" / "model.json"
    assert VisualClassifier.load(path).predict_crops(crops.crops[:3]).shape == (3,)
    again = Recorder(recorder.trainer)
    assert refit(again, out_dir=tmp_path / "refit") == path and again.fits == []  # finished: kept
    fewer = Recorder(VisualTrainer(crops.take(np.arange(40)), tiny_config(quick=True)))
    refit(fewer, out_dir=tmp_path / "refit")  # other samples: trained again
    assert len(fewer.fits) == 1


def test_training_is_repeatable_with_workers(tmp_path: Path) -> None:
    crops = patch_crops().take(np.arange(40))
    config = replace(tiny_config(quick=True), augment=AugmentConfig(jpeg=1.0), p_pseudo=0.5)
    models = [VisualTrainer(crops, replace(config, train=replace(config.train, workers=w))).fit(
        np.arange(40), state_dir=tmp_path / f"w{w}")[0] for w in (0, 2)]
    probs = [m.predict_crops(crops.crops) for m in models]
    np.testing.assert_allclose(probs[0], probs[1], atol=1e-5)


def test_check_folds_refuses_a_group_in_two_folds() -> None:
    trainer = VisualTrainer(patch_crops(), tiny_config())
    folds = video_folds(patch_crops())
    folds[0] = (folds[0] + 1) % 3  # one frame of a video moves to another fold
    with pytest.raises(ManifestError, match="straddles"):
        check_folds(trainer.index, folds)


def test_align_folds_looks_sample_videos_up_by_path() -> None:
    rows = [FoldRow(Path("/a.mp4"), "g", 1), FoldRow(Path("/b.mp4"), "h", 0)]
    np.testing.assert_array_equal(align_folds(np.array(["/b.mp4", "/a.mp4", "/b.mp4"]), rows), [0, 1, 0])
    with pytest.raises(ManifestError, match="no fold"):
        align_folds(np.array(["/c.mp4"]), rows)
