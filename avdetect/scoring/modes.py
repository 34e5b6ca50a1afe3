"""Scoring modes: how far scoring may knowingly depart from a bundle's spec to go faster (issue 14).

The ``full`` mode is the spec, unchanged. The ``fast`` mode (``avdetect score --fast``,
``Detector.load(mode="fast")``) decodes and looks at less: its probabilities are still those of a model
fitted and calibrated at the full settings, so they differ from the full mode's; README "Measurements"
gives the measured difference (AUC, mean |p_fast - p_full|, verdicts that change).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI's parent process imports this module; torch loads in the workers only
    from avdetect.perception.perceiver import PerceptionConfig


@dataclass(frozen=True)
class ScoringMode:
    """Departures from the spec, each named; the defaults depart from nothing.

    Attributes:
        name: shown in logs and summaries.
        n_frames: frames sampled for the faces instead of the spec's (None: the spec's).
        skip_nonref: decode only the frames other frames refer to (`DecodeConfig.skip_nonref`): about 60 %
            of the decoding time, and the lip and face luma at about half the frame rate.
        stacker_crops_only: the visual CNN scores only the crops the stacker reads (the spec's
            ``frames_per_track`` per track, evenly spread) instead of every crop. Alone it changes no
            probability, only the frame-level segments, which then come from those crops.
    """

    name: str = "full"
    n_frames: int | None = None
    skip_nonref: bool = False
    stacker_crops_only: bool = False

    def perception(self, spec: PerceptionConfig) -> PerceptionConfig:
        """The perception config this mode scores with, from the spec's."""
        decode = replace(spec.decode, skip_nonref=self.skip_nonref or spec.decode.skip_nonref)
        if self.n_frames is not None:
            decode = replace(decode, n_frames=self.n_frames)
        return replace(spec, decode=decode)

    def describe(self) -> str:
        """One line: what this mode changes."""
        changes = [f"{self.n_frames} sampled frames" if self.n_frames else "",
                   "non-reference frames skipped" if self.skip_nonref else "",
                   "CNN on the stacker's crops only" if self.stacker_crops_only else ""]
        return ", ".join(c for c in changes if c) or "the model's spec"


FULL = ScoringMode()
FAST = ScoringMode("fast", n_frames=16, skip_nonref=True, stacker_crops_only=True)
MODES = {"full": FULL, "fast": FAST}


def get_mode(mode: str | ScoringMode) -> ScoringMode:
    """`mode` itself, or the mode called `mode`; ValueError listing the valid names otherwise."""
    if isinstance(mode, ScoringMode):
        return mode
    if mode not in MODES:
        raise ValueError(f"unknown scoring mode {mode!r}; valid: {', '.join(MODES)}")
    return MODES[mode]
