"""Typed records of the scoring stage: per-frame, per-window and per-video scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from avdetect.records import SyncFeatures

NAN = float("nan")


@dataclass(frozen=True)
class TrackScores:
    """Visual fake probability of one face track, frame by frame."""

    track_id: int
    times_s: np.ndarray  # float64 (T,) frame times
    probs: np.ndarray  # float32 (T,) P(fake) of each frame's face crop
    face_px: float  # median face size, pixels of the decoded frames
    thumbnail: np.ndarray  # uint8 (S, S, 3) the crop of the track's middle frame


@dataclass(frozen=True)
class WindowScores:
    """Audio fake probability of each log-mel window."""

    start_s: np.ndarray  # float64 (W,)
    end_s: np.ndarray  # float64 (W,)
    probs: np.ndarray  # float32 (W,)


def empty_windows() -> WindowScores:
    return WindowScores(np.zeros(0), np.zeros(0), np.zeros(0, np.float32))


@dataclass(frozen=True)
class VideoScore:
    """Everything the detector says about one input. Probabilities are NaN where they do not apply
    (no face: p_visual; no audio: p_audio; either: p_sync; a failed input: all of them)."""

    path: str
    status: str  # "ok", or the error code of the AvdetectError that stopped it
    error: str = ""  # one-line reason when status != "ok"
    p_fake: float = NAN  # calibrated probability that the input is a deepfake
    p_visual: float = NAN  # ... judged from the faces alone
    p_audio: float = NAN  # ... from the voice alone
    p_sync: float = NAN  # ... from audio-visual sync alone
    verdict: str = ""  # "real", "fake" or "inconclusive" (the bundle's decision band); "" when not scored
    why: str = ""  # one line: which modality pushed the verdict
    fake_segments: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))  # float64 (K, 2) seconds
    n_tracks: int = 0
    n_frames: int = 0  # sampled frames
    duration_s: float = 0.0
    seconds: float = 0.0  # wall-clock time spent on this input
    tracks: tuple[TrackScores, ...] = ()
    windows: WindowScores = field(default_factory=empty_windows)
    sync: SyncFeatures | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def row(self) -> dict:
        """The flat output row, `ROW_FIELDS` (NaN probabilities become None)."""
        return {
            "path": self.path,
            "p_fake": _num(self.p_fake),
            "verdict": self.verdict,
            "p_visual": _num(self.p_visual),
            "p_audio": _num(self.p_audio),
            "p_sync": _num(self.p_sync),
            "fake_segments": [[round(float(a), 2), round(float(b), 2)] for a, b in self.fake_segments],
            "n_tracks": self.n_tracks,
            "n_frames": self.n_frames,
            "duration_s": round(self.duration_s, 3),
            "seconds": round(self.seconds, 3),
            "status": self.status,
            "error": self.error,
            "why": self.why,
        }


ROW_FIELDS = ("path", "p_fake", "verdict", "p_visual", "p_audio", "p_sync", "fake_segments", "n_tracks",
              "n_frames", "duration_s", "seconds", "status", "error", "why")


def _num(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def failed(path: str, status: str, error: str, seconds: float = 0.0) -> VideoScore:
    """The row of an input that could not be scored: no probability, a status and a reason."""
    return VideoScore(path=path, status=status, error=error, seconds=seconds)
