"""Training data of the visual branch: crop sets and on-the-fly pseudo-fakes, augmented.

Every crop goes through a random chain of re-encoding augmentations (`avdetect.training.visual_augment`:
test videos arrive re-encoded, resized and recoloured). Real crops become self-blended fakes (Shiohara &
Yamasaki, CVPR 2022) with probability ``p_pseudo``; a share ``p_cross`` of those are cross-blends of
another identity's face instead (Face X-ray, Li et al., CVPR 2020), closer to a real swap. Every random
draw comes from a generator seeded by (seed, epoch, item), so a run is the same whatever the number of
data-loader workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from torch.utils.data import Dataset

from avdetect.errors import InputError
from avdetect.pseudofakes.faces import cross_blend, nearest_pose, self_blend
from avdetect.training.visual_augment import AugmentConfig, augment

DONOR_CANDIDATES = 16  # faces drawn at random per cross-blend, of which the nearest in pose is pasted


@dataclass(frozen=True)
class CropSet:
    """Face crops with their labels and where each comes from; one row per crop."""

    crops: np.ndarray  # uint8 (N, S, S, 3) RGB face crops (FaceTrack.crops)
    landmarks: np.ndarray  # float32 (N, 5, 2) crop pixels (FaceTrack.crop_landmarks()); NaN where unknown
    labels: np.ndarray  # int64 (N,) 1 = fake face, 0 = real
    groups: np.ndarray  # str (N,) leak-proof component: a fake shares its original's
    videos: np.ndarray  # str (N,) manifest path of the video (or image) the crop comes from
    tracks: np.ndarray  # int64 (N,) face track id within the video
    frames: np.ndarray  # int64 (N,) index into the clip's sampled frames
    times_s: np.ndarray  # float64 (N,) presentation time of the frame, seconds

    def __post_init__(self) -> None:
        if self.crops.dtype != np.uint8 or self.crops.ndim != 4 or self.crops.shape[3] != 3:
            raise ValueError(f"crops must be uint8 (N, S, S, 3), got {self.crops.dtype} {self.crops.shape}")
        lengths = {f.name: len(getattr(self, f.name)) for f in fields(self)}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"CropSet fields differ in length: {lengths}")

    def __len__(self) -> int:
        return len(self.crops)

    def take(self, rows: np.ndarray) -> CropSet:
        """The crops at integer `rows`, in that order."""
        return CropSet(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @classmethod
    def concat(cls, parts: Sequence[CropSet]) -> CropSet:
        """All rows of `parts`, one after the other (at least one part)."""
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    @classmethod
    def from_images(cls, crops: np.ndarray, landmarks: np.ndarray, labels: np.ndarray, *,
                    videos: Sequence[str] | None = None, groups: Sequence[str] | None = None) -> CropSet:
        """Still images, each its own video (and its own group unless `groups` says otherwise)."""
        n = len(crops)
        videos = np.asarray(videos if videos is not None else [f"image{i}" for i in range(n)], dtype=object)
        groups = np.asarray(groups if groups is not None else videos, dtype=object)
        return cls(crops, np.asarray(landmarks, np.float32), np.asarray(labels, np.int64), groups, videos,
                   np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(n, np.float64))

    @property
    def has_landmarks(self) -> np.ndarray:
        """bool (N,) True where all five landmarks are known, so a pseudo-fake can be made."""
        return np.isfinite(self.landmarks).all(axis=(1, 2))


EXTRA_REALS = "extra-reals:"  # prefix of the `videos` of still-photo faces (`extra_reals`)


def extra_reals(faces, size: int) -> CropSet:
    """Real faces from still photos (`avdetect.corpus.face_images.FaceImages`) as a CropSet of `size` crops,
    each its own video and group, named ``extra-reals:<name>`` (they train every fold, never held out).

    Raises:
        InputError: the photos' crops are of another size than the videos'.
    """
    if faces.crops.shape[1] != size:
        raise InputError(f"extra real faces are {faces.crops.shape[1]} px crops, the videos' {size} px: "
                         f"make them again with `avdetect face-images` (crops of {size} px)")
    videos = [f"{EXTRA_REALS}{name}" for name in faces.names]
    return CropSet.from_images(faces.crops, faces.landmarks, np.zeros(len(faces), np.int64), videos=videos)


def same_frame_rows(crops: CropSet, label: int) -> dict[tuple[str, int], np.ndarray]:
    """int64 rows of each (group, frame index) whose crops carry `label`: a source's crops and its fakes'."""
    found: dict[tuple[str, int], list[int]] = {}
    for row in np.flatnonzero(crops.labels == label):
        found.setdefault((crops.groups[row], int(crops.frames[row])), []).append(int(row))
    return {key: np.array(rows, np.int64) for key, rows in found.items()}


class CropDataset(Dataset):
    """Augmented training samples from a `CropSet`, with self-blended pseudo-fakes made on the fly.

    Each item is (uint8 (K, S, S, 3) images, float32 (K,) labels). Unpaired, K = 1: a crop, a real one
    turned into a pseudo-fake with probability `p_pseudo`. Paired, K = 2: a real crop and a fake of the
    same source and frame (one of its real fakes, drawn at random, when there is one, with probability
    1 - `p_pseudo`, else its self-blend), both through the same augmentation draw, so only the
    manipulation tells them apart.
    With `every_fake`, each fake crop anchors a pair too: with a real crop of its source and frame, or,
    when the data has none (a fake whose source is not in it), with a real crop drawn at random; so every
    generator's output trains, always beside a real face, and every batch is half real.

    Args:
        crops: the training crops.
        p_pseudo: probability of a pseudo-fake, see above.
        p_cross: probability that a pseudo-fake is a cross-blend (Face X-ray: another group's face, the
            nearest in pose of `DONOR_CANDIDATES` drawn, colour-matched) rather than a self-blend.
        paired: items are real/fake pairs; only real rows with landmarks or a fake partner are used.
        every_fake: items are pairs, and fake rows are items too (see above); implies `paired`.
        augment: augmentation ranges; None leaves crops as they are.
        seed: with the epoch (`set_epoch`) and the item, seeds every random draw.
    """

    def __init__(self, crops: CropSet, *, p_pseudo: float = 0.5, p_cross: float = 0.0, paired: bool = False,
                 every_fake: bool = False, augment: AugmentConfig | None = AugmentConfig(), seed: int = 0):
        self.crops, self.p_pseudo, self.augment, self.seed = crops, p_pseudo, augment, seed
        self.p_cross, self.paired = p_cross, paired or every_fake
        self.blendable = crops.has_landmarks & (crops.labels == 0)
        self.donors = np.flatnonzero(self.blendable)
        self.fakes_at, self.reals_at = same_frame_rows(crops, 1), same_frame_rows(crops, 0)
        self.reals = np.flatnonzero(crops.labels == 0)
        self.rows = self._item_rows(every_fake) if self.paired else np.arange(len(crops))
        self.epoch = 0

    def _item_rows(self, every_fake: bool) -> np.ndarray:
        """int64 rows that anchor a pair: real rows with a fake to pair (and, `every_fake`, every fake row)."""
        c = self.crops
        partnered = np.array([self._key(row) in self.fakes_at for row in range(len(c))], bool)
        anchors = (c.labels == 0) & (self.blendable | partnered)
        if every_fake and len(self.reals):
            anchors |= c.labels == 1
        return np.flatnonzero(anchors)

    def _key(self, row: int) -> tuple[str, int]:
        return self.crops.groups[row], int(self.crops.frames[row])

    def set_epoch(self, epoch: int) -> None:
        """Draws of the next items come from this epoch's seeds."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        row = int(self.rows[i])
        if self.paired:
            images, labels = self._pair(row, rng)
        else:
            image, label = self._single(row, rng)
            images, labels = [self._augment(image, rng)], [label]
        return np.stack(images), np.asarray(labels, np.float32)

    def _blend(self, row: int, rng: np.random.Generator) -> np.ndarray:
        image, landmarks = self.crops.crops[row], self.crops.landmarks[row]
        if self.p_cross > 0 and rng.random() < self.p_cross:
            donor = self._donor(row, rng)
            if donor >= 0:
                source = self.crops.crops[donor]
                return cross_blend(image, landmarks, source, self.crops.landmarks[donor], rng).image
        return self_blend(image, landmarks, rng).image

    def _donor(self, row: int, rng: np.random.Generator) -> int:
        """A face of another group to paste into `row`: the nearest in pose of a few drawn at random; -1 if none."""
        drawn = rng.choice(self.donors, size=min(DONOR_CANDIDATES, len(self.donors)), replace=False)
        drawn = drawn[self.crops.groups[drawn] != self.crops.groups[row]]
        if len(drawn) == 0:
            return -1
        return int(drawn[nearest_pose(self.crops.landmarks[row], self.crops.landmarks[drawn])])

    def _single(self, row: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        if self.blendable[row] and rng.random() < self.p_pseudo:
            return self._blend(row, rng), 1
        return self.crops.crops[row], int(self.crops.labels[row])

    def _pair(self, row: int, rng: np.random.Generator) -> tuple[list[np.ndarray], list[int]]:
        seed = int(rng.integers(2**62))
        if self.crops.labels[row] == 1:
            real, fake = self.crops.crops[self._real_for(row, rng)], self.crops.crops[row]
        else:
            real, fake = self.crops.crops[row], self._fake_for(row, rng)
        return [self._augment(x, np.random.default_rng(seed)) for x in (real, fake)], [0, 1]

    def _fake_for(self, row: int, rng: np.random.Generator) -> np.ndarray:
        """A fake of the real crop at `row`: one of its source and frame, or with `p_pseudo` (or when there
        is none) its blend."""
        fakes = self.fakes_at.get(self._key(row))
        if fakes is not None and (not self.blendable[row] or rng.random() >= self.p_pseudo):
            return self.crops.crops[rng.choice(fakes)]
        return self._blend(row, rng)

    def _real_for(self, row: int, rng: np.random.Generator) -> int:
        """A real row for the fake crop at `row`: one of its source and frame, else one drawn at random."""
        return int(rng.choice(self.reals_at.get(self._key(row), self.reals)))

    def _augment(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return image if self.augment is None else augment(image, rng, self.augment)
