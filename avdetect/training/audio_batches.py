"""Batches of the audio branch's training windows: how they are drawn and augmented.

Windows are drawn class-balanced (`balanced`) or in real/fake pairs (`WindowPairs`,
`AudioTrainConfig.pairs`); each batch then gets a random gain and SpecAugment masks (Park et al.,
Interspeech 2019, `augment_batch`), shared by the two windows of a pair.

A batch of pairs shows the network a window and one of the other class from the same manifest group (an
utterance with its channel copies, its pseudo-fakes and the manifest's fakes made from it, such as a
vocoder's copy), cut at the nearest time: the same words, speaker and room, so only the generation tells
them apart and the recording conditions of a corpus cannot stand for the label. A window whose group holds
no window of the other class (a text-to-speech fake, whose text no real file in the data speaks) is paired
with one of that class drawn at random, so every generator still trains, beside real speech. The face
branch does the same with crops (`visual_data.CropDataset(every_fake=True)`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SpecAugmentConfig:
    """Per-batch augmentation of log-mel windows.

    Attributes:
        gain_db: range of a level change, dB, added to every bin of a window.
        freq_masks: frequency masks per window, each up to `freq_width` bands wide.
        freq_width: widest frequency mask, mel bands.
        time_masks: time masks per window, each up to `time_width` frames wide.
        time_width: widest time mask, frames.
    """

    gain_db: tuple[float, float] = (-8.0, 8.0)
    freq_masks: int = 2
    freq_width: int = 8
    time_masks: int = 2
    time_width: int = 20


def balanced(labels: np.ndarray) -> Callable[[np.random.Generator, int], np.ndarray]:
    """(rng, size) -> int64 (size,) sorted rows, each of either class with even odds, uniform within it."""
    classes = [np.flatnonzero(labels == c) for c in (0, 1)]
    return lambda rng, size: np.sort(np.where(rng.random(size) < 0.5, rng.choice(classes[0], size),
                                              rng.choice(classes[1], size)))


class WindowPairs:
    """Draws (real, fake) pairs of windows of a training bank.

    Args:
        labels: int8 (M,) 0 real, 1 fake (ambiguous windows removed beforehand).
        groups: (M,) the manifest group of each window's source.
        start_s: float64 (M,) each window's start in its view, seconds.
        max_gap_s: windows of the other class within this of the nearest one's start are all candidates.
    """

    def __init__(self, labels: np.ndarray, groups: np.ndarray, start_s: np.ndarray, *, max_gap_s: float = 0.25):
        self.labels, self.start_s, self.max_gap_s = np.asarray(labels), np.asarray(start_s, np.float64), max_gap_s
        self.groups = np.asarray(groups, dtype=object).astype(str)
        self.classes = [np.flatnonzero(self.labels == c) for c in (0, 1)]
        if not all(len(rows) for rows in self.classes):
            raise ValueError("pairs need windows of both classes")
        self.by_group: dict[tuple[str, int], np.ndarray] = {}
        for c, rows in enumerate(self.classes):
            keys = self.groups[rows]
            order = np.argsort(keys, kind="stable")
            names, starts = np.unique(keys[order], return_index=True)
            for name, part in zip(names, np.split(rows[order], starts[1:])):
                self.by_group[name, c] = part

    def matched(self) -> float:
        """Share of windows whose group holds a window of the other class (the rest pair at random)."""
        keys = zip(self.groups.tolist(), (1 - self.labels).tolist())
        return float(np.mean([key in self.by_group for key in keys])) if len(self.labels) else 0.0

    def partner(self, row: int, rng: np.random.Generator) -> int:
        """A window of the other class than `row`'s: of its group, nearest in time, else any."""
        other = 1 - int(self.labels[row])
        candidates = self.by_group.get((self.groups[row], other))
        if candidates is None:
            return int(rng.choice(self.classes[other]))
        gap = np.abs(self.start_s[candidates] - self.start_s[row])
        return int(rng.choice(candidates[gap <= max(gap.min(), self.max_gap_s)]))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """int64 (n, 2) rows of `n` (real, fake) pairs; each anchored by a window of either class (even odds),
        drawn uniformly within its class."""
        pairs = np.empty((n, 2), np.int64)
        for i in range(n):
            anchor = int(rng.choice(self.classes[int(rng.random() < 0.5)]))
            partner = self.partner(anchor, rng)
            pairs[i] = (anchor, partner) if self.labels[anchor] == 0 else (partner, anchor)
        return pairs

    def draw_batch(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """int64 rows of a batch of `size` // 2 pairs (at least one), real then fake: a batch of pairs."""
        return self.draw(rng, max(1, size // 2)).ravel()


def augment_batch(mels: np.ndarray, rng: np.random.Generator, config: SpecAugmentConfig, *,
                  fill: np.ndarray, shared: int = 1) -> np.ndarray:
    """float32 (B, n_mels, t) copy of log-mel windows `mels` (dB) with a random gain each and SpecAugment
    masks set to `fill` float32 (n_mels,) (the training band means: a mask reads as 0 once standardised);
    each run of `shared` consecutive windows (a real/fake pair: 2) gets the same draw."""
    out = np.array(mels, np.float32)
    n, bands, frames = out.shape
    draws = -(-n // shared)
    out += np.repeat(rng.uniform(*config.gain_db, size=draws), shared)[:n, None, None].astype(np.float32)
    for d in range(draws):
        items = slice(d * shared, (d + 1) * shared)
        for _ in range(config.freq_masks):
            lo, hi = _mask_span(rng, bands, config.freq_width)
            out[items, lo:hi, :] = fill[lo:hi, None]
        for _ in range(config.time_masks):
            lo, hi = _mask_span(rng, frames, config.time_width)
            out[items, :, lo:hi] = fill[:, None]
    return out


def _mask_span(rng: np.random.Generator, size: int, width: int) -> tuple[int, int]:
    w = int(rng.integers(0, min(width, size) + 1))
    lo = int(rng.integers(0, size - w + 1))
    return lo, lo + w

