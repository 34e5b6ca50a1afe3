"""Per-video feature blocks measured on a video's perception, the same way at training and at scoring.

An extractor turns a `Perception` (fresh from the perceiver when scoring, loaded from the extraction cache
when training) into a fixed row of named numbers. `avdetect video-features` writes one CSV per extractor
for the stacker to learn from; a bundle's `ScoringSpec.extractors` names the ones its stacker uses and the
Detector computes exactly those. A block is NaN where its stream is absent (LightGBM's missing value).

Adding a block: a module in `avdetect.features` with its names and a compute function, and one entry in
`VIDEO_EXTRACTORS` (a plain dict, as timm's registries; an unknown name raises listing the valid ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avdetect.features import (  # issue 11 (voice)
    face_drift,
    face_motion,
    face_spectrum,
    pitch,
    sync_learnt,  # issue 13 (learnt lip-sync)
    sync_motion,
    voice_embed,
    voice_spectrum,
)
from avdetect.records import Perception


@dataclass(frozen=True)
class VideoExtractor:
    """One per-video feature block."""

    names: tuple[str, ...]  # column names, prefixed by the block (e.g. "pitch_periodicity_mean")
    compute: Callable[..., np.ndarray]  # (perception[, checkpoint=]) -> float64 (len(names),); NaN where absent
    help: str = ""
    checkpoint: str | None = None  # its weights inside a models folder (a bundle), for blocks that have any

    def __call__(self, perception: Perception, models: Path | None = None) -> np.ndarray:
        """The block of `perception`; a block with weights reads them from `models` (default the package's)."""
        options = {"checkpoint": models / self.checkpoint} if self.checkpoint and models is not None else {}
        values = np.asarray(self.compute(perception, **options), dtype=np.float64)
        if values.shape != (len(self.names),):
            raise ValueError(f"extractor made {values.shape} values for {len(self.names)} names")
        return values


# Name -> extractor. The extractors of new features register here.
VIDEO_EXTRACTORS: dict[str, VideoExtractor] = {
    "face_motion": VideoExtractor(face_motion.NAMES, face_motion.face_motion_features,
                                  "head pose and motion spectrum, face flicker against its ring, blinks (issue 12)"),
    "face_drift": VideoExtractor(face_drift.NAMES, face_drift.face_drift_features,
                                 "motion of the face against its ring: a pasted face jitters (issue 12)"),
    "face_spectrum": VideoExtractor(face_spectrum.NAMES, face_spectrum.face_spectrum_features,
                                    "spectrum and noise of the face against its ring (issue 12)"),
    "voice_pitch": VideoExtractor(pitch.NAMES, pitch.compute,
                                  "CREPE tiny periodicity, pitch contour and embedding of the speech (issue 11)"),
    "voice_spectrum": VideoExtractor(voice_spectrum.NAMES, voice_spectrum.compute,
                                     "linear-frequency high band of the speech: ratios, flatness, peaks (issue 11)"),
    "voice_embed": VideoExtractor(voice_embed.NAMES, voice_embed.compute,
                                  "a speaker encoder's LSTM layers on the speech, scored by a linear head (issue 11)",
                                  checkpoint=voice_embed.CHECKPOINT),
    "sync_learnt": VideoExtractor(sync_learnt.NAMES, sync_learnt.sync_learnt_features,
                                  "learnt lip-sync offset, confidence and their spread over speech windows (issue 13)",
                                  checkpoint="sync/sync.json"),
    "sync_motion": VideoExtractor(sync_motion.NAMES, sync_motion.sync_motion_features,
                                  "lip-sync of motion-compensated lips against speech-band energy (issue 13)"),
}


def get_extractor(name: str) -> VideoExtractor:
    """The extractor called `name`; ValueError listing the valid names otherwise."""
    if name not in VIDEO_EXTRACTORS:
        raise ValueError(f"unknown video feature extractor {name!r}; valid: {', '.join(VIDEO_EXTRACTORS) or 'none'}")
    return VIDEO_EXTRACTORS[name]
