"""Training the audio branch: speech windows, pseudo-fakes made from real speech, one model per fold.

The waveform of each manifest row comes from the extraction cache (`Perception.clip.audio`, int16 at
16 kHz) or is decoded. Its clean, silence-trimmed windows are the branch's samples: the out-of-fold table
holds one row per window, scored by the model of the fold that held the video out. A model trains on the
window bank (`audio_bank.build_bank`: channel-augmented copies and pseudo-fakes, `audio_data.source_views`) of the
training videos only, in class-balanced batches with gain and SpecAugment. `AudioTrainer` is the
`Trainer` that `avdetect.training.folds_loop` runs per fold and for the refit.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from avdetect.branches.audio import AudioClassifier, AudioModelConfig, band_stats
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import AvdetectError, NoAudioError
from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig
from avdetect.records import Perception
from avdetect.training.audio_bank import bank_fingerprint, build_bank, clean_windows, load_bank, log_bank, save_bank
from avdetect.training.audio_batches import SpecAugmentConfig, WindowPairs, augment_batch, balanced
from avdetect.training.audio_data import (
    AMBIGUOUS,
    AudioSource,
    ViewConfig,
    WindowBank,
    make_source,
)
from avdetect.training.epochs import Progress, TrainConfig, fit_epochs
from avdetect.training.folds_loop import Evaluate, SampleIndex

log = logging.getLogger(__name__)

STATS_WINDOWS = 2048  # training windows the band statistics are measured on (seeded draw)


@dataclass(frozen=True)
class AudioTrainConfig:
    """Everything an audio training run depends on.

    Attributes:
        model: architecture.
        mel: log-mel windows (saved with the weights).
        speech: speech detection before windowing (saved with the weights).
        views: copies, pseudo-fakes and channel of each training source.
        augment: per-batch gain and SpecAugment.
        train: optimisation loop; `steps_per_epoch` caps an epoch (batches are drawn class-balanced).
        predict_batch: windows per forward pass when predicting.
        pairs: batches of real/fake pairs, each window beside one of the other class from its group
            (`audio_batches.WindowPairs`), both through one augmentation draw; else class-balanced windows.
    """

    model: AudioModelConfig = field(default_factory=AudioModelConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    views: ViewConfig = field(default_factory=ViewConfig)
    augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=6, lr=1e-3, steps_per_epoch=100))
    predict_batch: int = 64
    pairs: bool = False


def perception_audio(perception: Perception, *, sample_rate: int) -> np.ndarray:
    """float32 (N,) mono audio of a cached `Perception` (stored as int16, see `avdetect.corpus.cache`).

    Raises:
        NoAudioError: the video has no audio track.
        CacheError: the cache holds audio at another rate than the branch's mel config.
    """
    from avdetect.errors import CacheError

    clip = perception.clip
    if len(clip.audio) == 0:
        raise NoAudioError(f"{clip.info.path}: no audio track")
    if clip.sample_rate != sample_rate:
        raise CacheError(f"{clip.info.path}: cached audio at {clip.sample_rate} Hz, the audio branch wants "
                         f"{sample_rate}; extract again or set the mel sample rate to match")
    return clip.audio


def load_sources(rows: Sequence[ManifestRow], load: Callable[[Path], np.ndarray]
                 ) -> tuple[list[AudioSource], list[str]]:
    """The `AudioSource` of every row whose audio loads, and "path: error code" of those that do not.

    Args:
        rows: manifest rows.
        load: path -> float32 (N,) audio at the mel config's rate (`perception_audio` of the cached
            perception, or `avdetect.perception.video.load_audio`); raises an `AvdetectError` for a bad file.
    """
    sources, skipped = [], []
    for row in rows:
        try:
            sources.append(make_source(row, load(row.path)))
        except AvdetectError as err:
            skipped.append(f"{row.path}: {err.code}")
    if skipped:
        log.warning("%d file(s) give no audio and are left out, e.g. %s", len(skipped), skipped[:3])
    return sources, skipped


class AudioTrainer:
    """The audio branch's `Trainer`: fits `AudioClassifier`s on the window bank of the training videos.

    Args:
        sources: the audio of every video, in manifest order.
        config: the run's options.
        trainable: bool per source; False keeps a source out of every model's training (it is still
            scored out of fold). None trains on all.
        bank_path: .npz where the bank is kept between runs (rebuilt when its fingerprint differs).
        bank_progress: called as (done, total) while the bank is built; None logs every tenth.
    """

    def __init__(self, sources: Sequence[AudioSource], *,
                 config: AudioTrainConfig = AudioTrainConfig(), trainable: Sequence[bool] | None = None,
                 bank_path: Path | None = None, bank_progress: Callable[[int, int], None] | None = None):
        self.sources, self.config = list(sources), config
        self.extractor = MelExtractor(config.mel)
        self.clean, self.silent = clean_windows(self.sources, self.extractor, speech=config.speech,
                                                views=config.views, workers=config.train.workers)
        self.groups = np.array([source.group for source in self.sources], dtype=object)
        self.index = SampleIndex(
            videos=np.array([self.sources[i].path for i in self.clean.source], dtype=object),
            groups=self.groups[self.clean.source], labels=(self.clean.labels != 0).astype(np.int64),
            tracks=np.full(len(self.clean), -1, np.int64), positions=_positions(self.clean.source),
            times_s=self.clean.start_s, end_times_s=self.clean.end_s)
        self.trainable = np.ones(len(self.sources), bool) if trainable is None else np.asarray(trainable, bool)
        self.bank = self._bank(bank_path, bank_progress)

    def _bank(self, path: Path | None, progress: Callable[[int, int], None] | None) -> WindowBank:
        cfg = self.config
        fingerprint = bank_fingerprint(self.sources, views=cfg.views, mel=cfg.mel, speech=cfg.speech,
                                       seed=cfg.train.seed)
        bank = load_bank(path, fingerprint=fingerprint) if path is not None and path.is_file() else None
        if bank is None:
            bank = build_bank(self.sources, self.extractor, speech=self.config.speech, views=self.config.views,
                              seed=self.config.train.seed, progress=progress or log_bank,
                              workers=self.config.train.workers)
            if path is not None:
                save_bank(bank, path, fingerprint=fingerprint)
        return bank.select(bank.labels != AMBIGUOUS)

    def fit(self, rows: np.ndarray, *, state_dir: Path, task: str = "train", progress: Progress | None = None,
            evaluate: Evaluate | None = None) -> tuple[AudioClassifier, list[dict[str, Any]]]:
        """Trains a new classifier on the bank windows of the videos at `rows`; see `folds_loop.Trainer`."""
        cfg = self.config
        train = self.training_windows(rows)
        if len(np.unique(train.labels)) < 2:
            raise ValueError(f"{task}: training windows hold one class only; add fakes or turn pseudo-fakes on")
        seed = [cfg.train.seed, zlib.crc32(task.encode())]
        pick = np.random.default_rng([*seed, 1]).permutation(len(train))[:STATS_WINDOWS]
        mean, std = band_stats(train.mels[np.sort(pick)])
        torch.manual_seed(cfg.train.seed)  # the initial weights
        classifier = AudioClassifier.create(mean=mean, std=std, mel=cfg.mel, speech=cfg.speech, model=cfg.model,
                                            device=cfg.train.device)
        on_epoch = (lambda: evaluate(classifier)) if evaluate and cfg.train.eval_every_epoch else None
        draw = self._sampler(train)
        curves = fit_epochs(classifier.net, lambda epoch: self._batches(train, draw, classifier, seed, epoch),
                            n_batches=max(1, len(train) // cfg.train.batch_size), config=cfg.train,
                            state_dir=state_dir, task=task, progress=progress, on_epoch=on_epoch,
                            options=self.options())
        classifier.net.eval()
        return classifier, curves

    def training_windows(self, rows: np.ndarray) -> WindowBank:
        """The bank windows (copies, pseudo-fakes) of the trainable videos of the samples at `rows`."""
        chosen = np.intersect1d(self.clean.source[rows], np.flatnonzero(self.trainable))
        return self.bank.select(np.isin(self.bank.source, chosen))

    def _sampler(self, train: WindowBank) -> Callable[[np.random.Generator, int], np.ndarray]:
        """(rng, size) -> the rows of a batch of `train`: real/fake pairs with `pairs`, else class-balanced."""
        if not self.config.pairs:
            return balanced(train.labels)
        pairs = WindowPairs(train.labels, self.groups[train.source], train.start_s)
        log.info("pairs: %.0f %% of %d training windows have a partner in their group", 100 * pairs.matched(),
                 len(train))
        return pairs.draw_batch

    def _batches(self, train: WindowBank, draw: Callable[[np.random.Generator, int], np.ndarray],
                 classifier: AudioClassifier, seed: list[int], epoch: int
                 ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Endless augmented batches of one epoch, rows from `draw` (`_sampler`), drawn from (seed, task, epoch)."""
        rng = np.random.default_rng([*seed, 2, epoch])
        fill = classifier.net.mean[:, 0].cpu().numpy()
        shared = 2 if self.config.pairs else 1  # a pair's two windows get one augmentation draw
        while True:
            batch = draw(rng, self.config.train.batch_size)
            mels = augment_batch(train.mels[batch], rng, self.config.augment, fill=fill, shared=shared)
            yield (torch.from_numpy(mels).to(classifier.device),
                   torch.from_numpy(train.labels[batch].astype(np.float32)).to(classifier.device))

    def predict(self, model: AudioClassifier, rows: np.ndarray) -> np.ndarray:
        """float32 (len(rows),) probability of fake of the untouched windows at `rows`."""
        return model.predict_windows(self.clean.mels[rows].astype(np.float32), batch_size=self.config.predict_batch)

    def save(self, model: AudioClassifier, directory: Path) -> Path:
        """Writes `directory/model.{json,safetensors}`."""
        return model.save(directory, "model")

    def options(self) -> dict[str, Any]:
        """The branch options the weights depend on (JSON-able), checked when a run resumes."""
        cfg = asdict(self.config)
        cfg.pop("train")
        cfg.pop("predict_batch")
        return cfg


def _positions(source: np.ndarray) -> np.ndarray:
    """int64 (M,) index of each window within its source (sources' windows are contiguous)."""
    starts = np.r_[0, np.flatnonzero(np.diff(source)) + 1]
    counts = np.diff(np.r_[starts, len(source)])
    return (np.arange(len(source)) - np.repeat(starts, counts)).astype(np.int64)
