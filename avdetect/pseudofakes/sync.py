"""Audio-visual pseudo-fakes: a real video's own audio moved in time, or replaced by another speaker's.

Lip-sync detectors learn from real videos whose audio is shifted or swapped (SyncNet, Chung &
Zisserman, ACCV 2016 workshops, used shifts of up to a second; "Not made for each other", Mittal et al.,
ACM MM 2020, and AV-HuBERT based detectors (Shahzad et al. 2022) likewise). Partial replacement gives
the time-localised fakes of LAV-DF (Cai et al., 2022) with segment labels.

Audio is float32 (N,) mono in [-1, 1]; every result keeps the length of the video's audio.
"""

from __future__ import annotations

import numpy as np

from avdetect.defaults import SAMPLE_RATE
from avdetect.pseudofakes._spans import draw_spans, paste_spans, rms, spans_to_seconds

FADE_S = 0.01  # cross-fade at each end of a replaced segment
FRAME_S = 0.02  # frame length for the noise-floor estimate
FLOOR_QUANTILE = 0.1  # the quietest tenth of frames is taken as the background noise
MIN_NOISE_RMS = 1e-5  # noise floor used when the audio is digitally silent


def noise_floor(audio: np.ndarray, sample_rate: int) -> float:
    """RMS of the quietest FLOOR_QUANTILE of FRAME_S frames: the recording's background level."""
    frame = max(1, round(FRAME_S * sample_rate))
    n_frames = len(audio) // frame
    if n_frames == 0:
        return MIN_NOISE_RMS
    frames = audio[: n_frames * frame].reshape(n_frames, frame).astype(np.float64)
    levels = np.sqrt(np.mean(frames**2, axis=1))
    return max(float(np.quantile(levels, FLOOR_QUANTILE)), MIN_NOISE_RMS)


def _noise(n: int, level: float, rng: np.random.Generator) -> np.ndarray:
    return (rng.standard_normal(n) * level).astype(np.float32)


def shift_audio(
    audio: np.ndarray, sample_rate: int, offset_s: float, *, rng: np.random.Generator | None = None
) -> np.ndarray:
    """float32 (N,) `audio` delayed by `offset_s` seconds (advanced when negative), length kept.

    The gap opened at one end is filled with Gaussian noise at the recording's own noise floor, so
    digital silence does not give the shift away; what is pushed past the other end is dropped.

    Args:
        audio: float32 (N,) mono.
        sample_rate: Hz of `audio`.
        offset_s: seconds; > 0 the sound comes after the lips move, < 0 before.
        rng: for the padding noise; a fixed seed when None, so the result is deterministic.
    """
    audio = np.asarray(audio, np.float32)
    rng = rng if rng is not None else np.random.default_rng(0)
    n, shift = len(audio), int(round(offset_s * sample_rate))
    shift = max(-n, min(n, shift))
    pad = _noise(abs(shift), noise_floor(audio, sample_rate), rng)
    if shift >= 0:
        return np.concatenate([pad, audio[: n - shift]])
    return np.concatenate([audio[-shift:], pad])


def random_shift(
    audio: np.ndarray, sample_rate: int, rng: np.random.Generator, *, offset_s: tuple[float, float] = (0.2, 1.0)
) -> tuple[np.ndarray, float]:
    """`shift_audio` by a random offset of `offset_s` seconds in either direction; returns audio, offset."""
    offset = float(rng.choice([-1.0, 1.0]) * rng.uniform(*offset_s))
    return shift_audio(audio, sample_rate, offset, rng=rng), offset


def fit_length(other: np.ndarray, n: int, level: float, rng: np.random.Generator) -> np.ndarray:
    """float32 (n,) `other` cut to `n` samples, or padded at the end with noise at `level` RMS."""
    other = np.asarray(other, np.float32)[:n]
    return np.concatenate([other, _noise(n - len(other), level, rng)])


def replace_audio(
    audio: np.ndarray, other: np.ndarray, *, sample_rate: int = SAMPLE_RATE, rng: np.random.Generator | None = None
) -> np.ndarray:
    """float32 (N,) `other` (another speaker, same sample rate) in place of `audio`, at its loudness.

    `other` is cut to the length of `audio`, or padded with noise at `audio`'s noise floor.
    """
    audio = np.asarray(audio, np.float32)
    rng = rng if rng is not None else np.random.default_rng(0)
    other = fit_length(other, len(audio), noise_floor(audio, sample_rate), rng)
    return other * np.float32(rms(audio) / max(rms(other), 1e-8))


def partly_replace(
    audio: np.ndarray,
    other: np.ndarray,
    rng: np.random.Generator,
    *,
    sample_rate: int = SAMPLE_RATE,
    count: tuple[int, int] = (1, 2),
    length_s: tuple[float, float] = (0.5, 2.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Stretches of `audio` replaced by `other` (another speaker) from the same times, cross-faded.

    Returns:
        float32 (N,) audio, samples outside the segments exactly those of `audio`; and float64 (K, 2)
        start, end seconds of the replaced segments.
    """
    audio = np.asarray(audio, np.float32)
    other = fit_length(other, len(audio), noise_floor(audio, sample_rate), rng)
    spans = draw_spans(rng, len(audio), sample_rate, count=count, length_s=length_s)
    out = paste_spans(audio, other, spans, spans[:, 0], round(FADE_S * sample_rate))
    return out, spans_to_seconds(spans, sample_rate)
