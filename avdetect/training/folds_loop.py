"""Per-fold training, out-of-fold prediction and refitting, shared by every branch.

For each fold k a branch trains on the other folds and predicts the held-out one. The held-out
predictions of all folds make the out-of-fold (OOF) table the stacker learns from: every training video
once, scored by a model that never saw its group or actor (the folds come from `avdetect folds`). The
shipped model is a refit on all the data. A branch plugs in through the `Trainer` protocol and trains
with `fit_epochs` (AdamW, warm-up then cosine, binary cross-entropy on one logit), which saves its state
after every epoch so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from avdetect.errors import ManifestError
from avdetect.training.epochs import Progress, remove_epoch_state
from avdetect.training.report import TrainingMetrics, plot_curves, video_means, write_oof
from stacking.metrics import summarize

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleIndex:
    """Where each training sample of a branch comes from and its label; one row per sample."""

    videos: np.ndarray  # str (N,) manifest path of the sample's video
    groups: np.ndarray  # str (N,) source video (manifest `group`): a fake shares its original's
    labels: np.ndarray  # int64 (N,) 1 = fake
    tracks: np.ndarray  # int64 (N,) face track id; -1 for samples not tied to a face (audio)
    positions: np.ndarray  # int64 (N,) frame index (visual) or window index (audio) in the video
    times_s: np.ndarray  # float64 (N,) time of the sample in its video, seconds
    end_times_s: np.ndarray | None = None  # float64 (N,) end of a sample that spans time (audio window)

    def __len__(self) -> int:
        return len(self.videos)


TRAIN_ONLY = -1  # the fold id of samples that train every fold's model and are never held out
Evaluate = Callable[[Any], dict[str, Any]]  # evaluate(model) -> held-out metrics for the curves


class Trainer(Protocol):
    """What a branch provides to the loop: its samples and how to fit, predict and save a model.

    A trainer holds its own data and options; `rows` are integer positions in its `index`.
    """

    index: SampleIndex

    def fit(self, rows: np.ndarray, *, state_dir: Path, task: str, progress: Progress | None,
            evaluate: Evaluate | None) -> tuple[Any, list[dict[str, Any]]]:
        """Trains a new model on `rows`, resuming from `state_dir`; returns it and its per-epoch records
        ({"epoch", "loss", ...}), to which it may add `evaluate(model)` after each epoch."""

    def predict(self, model: Any, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows),) probability of fake of each sample."""

    def save(self, model: Any, directory: Path) -> Path:
        """Writes the model checkpoint into `directory`; returns its JSON path."""


def check_folds(index: SampleIndex, folds: np.ndarray) -> None:
    """Raises ManifestError unless every group and every video lies in exactly one fold."""
    if len(folds) != len(index):
        raise ManifestError(f"{len(index)} samples but {len(folds)} fold ids")
    for name, keys in (("group", index.groups), ("video", index.videos)):
        pairs = {(str(k), int(f)) for k, f in zip(keys, folds)}
        if len(pairs) != len({k for k, _ in pairs}):
            raise ManifestError(f"a {name} straddles two folds: folds must come from `avdetect folds`")


def run_folds(trainer: Trainer, folds: np.ndarray, *, out_dir: Path, progress: Progress | None = None
              ) -> TrainingMetrics:
    """Trains one model per fold, predicts each held-out fold, writes the OOF table and the report.

    Writes `out_dir/fold{k}/model.{json,safetensors}` (+ predictions.npz, curves.json), `oof.csv`,
    `metrics.json` and `curves.png`. A fold whose model and predictions exist is not trained again.

    Samples in fold `TRAIN_ONLY` (extra real faces) train every fold's model and are never held out: they
    are not in the OOF table.

    Returns:
        The metrics written to metrics.json: per fold, and over the OOF table by sample and by video.
    """
    index = trainer.index
    check_folds(index, folds)
    probs, curves, per_fold = np.full(len(index), np.nan, np.float32), {}, {}
    fold_ids = sorted({int(f) for f in folds} - {TRAIN_ONLY})
    for n, k in enumerate(fold_ids, 1):
        held = np.flatnonzero(folds == k)
        probs[held], curves[f"fold{k}"] = _run_fold(trainer, np.flatnonzero(folds != k), held, out_dir / f"fold{k}",
                                                    task=f"fold {n}/{len(fold_ids)}", progress=progress)
        per_fold[f"fold{k}"] = summarize(index.labels[held], probs[held])
    scored = folds != TRAIN_ONLY
    columns = {"path": index.videos, "track": index.tracks, "position": index.positions,
               "time_s": index.times_s, "label": index.labels, "fold": folds, "probability": probs}
    if index.end_times_s is not None:
        columns["end_s"] = index.end_times_s
    write_oof(out_dir / "oof.csv", {name: values[scored] for name, values in columns.items()})
    labels, probs, videos = index.labels[scored], probs[scored], index.videos[scored]
    metrics = TrainingMetrics(per_fold, summarize(labels, probs), summarize(*video_means(videos, labels, probs)))
    (out_dir / "metrics.json").write_text(json.dumps(metrics.to_json(), indent=2))
    plot_curves(curves, out_dir / "curves.png")
    return metrics


def _run_fold(trainer: Trainer, train: np.ndarray, held: np.ndarray, fold_dir: Path, *, task: str,
              progress: Progress | None) -> tuple[np.ndarray, list[dict[str, Any]]]:
    done = _finished_fold(fold_dir, held)
    if done is not None:
        return done

    def evaluate(model: Any) -> dict[str, Any]:
        held_out = summarize(trainer.index.labels[held], trainer.predict(model, held)).to_json()  # NaN as None
        return {"heldout_auc": held_out["auc"], "heldout_log_loss": held_out["log_loss"]}

    model, curves = trainer.fit(train, state_dir=fold_dir, task=task, progress=progress, evaluate=evaluate)
    probs = trainer.predict(model, held)
    trainer.save(model, fold_dir)
    np.savez(fold_dir / "predictions.npz", rows=held, probs=probs)
    (fold_dir / "curves.json").write_text(json.dumps(curves, indent=2))
    remove_epoch_state(fold_dir)
    return probs, curves


def _finished_fold(fold_dir: Path, held: np.ndarray) -> tuple[np.ndarray, list[dict[str, Any]]] | None:
    """Saved (probabilities, curves) of a fold trained before on the same held-out rows, else None."""
    files = [fold_dir / n for n in ("predictions.npz", "curves.json", "model.json")]
    if not all(f.is_file() for f in files):
        return None
    saved = np.load(files[0])
    if not np.array_equal(saved["rows"], held):
        return None
    log.info("%s: already trained, reusing its predictions", fold_dir)
    return saved["probs"].astype(np.float32), json.loads(files[1].read_text())


def refit(trainer: Trainer, *, out_dir: Path, progress: Progress | None = None) -> Path:
    """Trains on every sample (the shipped model); writes `out_dir/model.*`, `curves.json` and `samples.npz`
    (the digest of the videos it trained on). A refit finished before on the same samples is kept, not trained again."""
    done = _finished_refit(out_dir, trainer.index.videos)
    if done is not None:
        return done
    rows = np.arange(len(trainer.index))
    model, curves = trainer.fit(rows, state_dir=out_dir, task="refit", progress=progress, evaluate=None)
    path = trainer.save(model, out_dir)
    (out_dir / "curves.json").write_text(json.dumps(curves, indent=2))
    np.savez(out_dir / "samples.npz", sha256=samples_digest(trainer.index.videos))
    remove_epoch_state(out_dir)
    return path


def samples_digest(videos: np.ndarray) -> str:
    """sha256 of the samples' videos, in order: what a refit trained on, in 64 characters."""
    return hashlib.sha256("\n".join(map(str, videos)).encode()).hexdigest()


def _finished_refit(out_dir: Path, videos: np.ndarray) -> Path | None:
    """`out_dir/model.json` of a refit finished before on the same samples, else None."""
    files = [out_dir / n for n in ("model.json", "curves.json", "samples.npz")]
    if not all(f.is_file() for f in files):
        return None
    with np.load(files[2]) as saved:
        if "sha256" not in saved.files or str(saved["sha256"]) != samples_digest(videos):
            return None
    log.info("%s: already trained on these samples, kept", out_dir)
    return files[0]
