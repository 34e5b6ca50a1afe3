"""Pseudo-fake voices carrying the traces a neural vocoder's upsampling layers leave.

GAN vocoders (MelGAN, HiFi-GAN, Parallel WaveGAN...) turn a mel spectrogram at ~86 frames a second
into a waveform through a chain of transposed convolutions, each multiplying the rate by its stride
(MelGAN: 8, 8, 2, 2). A transposed convolution repeats its kernel every `stride` output samples, so
whatever the kernel does imperfectly repeats with that period: the output is the wanted signal times a
periodic gain (spectral images of the signal shifted by multiples of rate / period) plus periodic
"checkerboard" tones where the bias and the kernel's DC leak (Pons et al., "Upsampling artifacts in
neural audio synthesis", ICASSP 2021; Odena et al., "Deconvolution and checkerboard artifacts", 2016).
Those images and tones, 40 to 70 dB below the speech, are what a detector trained on Griffin-Lim or
WORLD re-synthesis never sees. (Louder ones raise the high bands by several dB, which a trained vocoder
does not: a MelGAN copy of a voice stays within a dB of it.)

`upsampling_artefacts` adds them to real speech at a randomly drawn internal rate, period set and level;
nothing here is fitted to any particular vocoder. Audio is float32 mono at 16 kHz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from avdetect.defaults import SAMPLE_RATE


@dataclass(frozen=True)
class UpsamplingConfig:
    """Ranges the artefacts are drawn from.

    Attributes:
        rates: internal sample rates of the emulated vocoder, Hz (the common TTS rates).
        periods: candidate repetition periods, samples at the internal rate (products of the last strides).
        n_periods: how many periods (upsampling stages) leave a trace, inclusive range.
        image_db: level of the strongest spectral image below the speech, dB, drawn uniformly.
        tone_db: level of the checkerboard tones below the speech's RMS, dB, drawn uniformly.
        envelope_s: the tones follow the speech's amplitude envelope smoothed over this many seconds.
    """

    rates: tuple[int, ...] = (SAMPLE_RATE, 22050, 24000)
    periods: tuple[int, ...] = (2, 4, 8, 16, 32)
    n_periods: tuple[int, int] = (1, 3)
    image_db: tuple[float, float] = (-60.0, -40.0)
    tone_db: tuple[float, float] = (-70.0, -50.0)
    envelope_s: float = 0.02


@dataclass(frozen=True)
class UpsamplingParams:
    """One draw of the artefacts: internal rate, and per period its image gains and tone amplitudes."""

    rate: int
    periods: tuple[int, ...]
    image_gains: tuple[np.ndarray, ...]  # per period: complex gains of harmonics 1..period-1 of 1/period
    tone_gains: tuple[np.ndarray, ...]  # per period: complex amplitudes of the same harmonics' tones


def draw_upsampling_params(rng: np.random.Generator, config: UpsamplingConfig = UpsamplingConfig()) -> UpsamplingParams:
    """Draw one set of artefacts from `config` with `rng`."""
    count = int(rng.integers(config.n_periods[0], config.n_periods[1] + 1))
    periods = tuple(int(p) for p in rng.choice(config.periods, size=min(count, len(config.periods)), replace=False))
    image_gains, tone_gains = [], []
    for period in periods:
        harmonics = period // 2  # cos(2 pi k n / P) for k and P - k are the same real carrier
        level = 10 ** (rng.uniform(*config.image_db) / 20)
        image_gains.append(_random_complex(rng, harmonics) * level)
        tone_gains.append(_random_complex(rng, harmonics) * 10 ** (rng.uniform(*config.tone_db) / 20))
    return UpsamplingParams(int(rng.choice(config.rates)), periods, tuple(image_gains), tuple(tone_gains))


def _random_complex(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` complex gains of random phase whose magnitudes (decaying, random) peak at 1."""
    magnitude = rng.uniform(0.2, 1.0, n) / np.arange(1, n + 1) ** rng.uniform(0.0, 1.0)
    return magnitude / magnitude.max() * np.exp(2j * np.pi * rng.random(n))


def apply_upsampling_artefacts(y: np.ndarray, params: UpsamplingParams, *, sample_rate: int = SAMPLE_RATE,
                               envelope_s: float = UpsamplingConfig.envelope_s) -> np.ndarray:
    """float32 (N,) `y` with the drawn periodic gain and tones applied at `params.rate`, back at `sample_rate`."""
    y = np.asarray(y, np.float32)
    if len(y) == 0:
        return y.copy()
    x = signal.resample_poly(y.astype(np.float64), params.rate, sample_rate)  # reduces the ratio itself
    n = np.arange(len(x))
    gain = np.ones(len(x))
    tones = np.zeros(len(x))
    for period, images, tone in zip(params.periods, params.image_gains, params.tone_gains):
        phase = 2 * np.pi * np.outer(n % period, np.arange(1, len(images) + 1)) / period
        carriers = np.exp(1j * phase)
        gain += 2 * np.real(carriers @ images)
        tones += 2 * np.real(carriers @ tone)
    rms = np.sqrt(np.mean(x**2)) + 1e-9
    envelope = _envelope(x, max(1, int(envelope_s * params.rate)))
    out = x * gain + tones * envelope / (envelope.mean() + 1e-9) * rms
    back = signal.resample_poly(out, sample_rate, params.rate)[: len(y)]
    return np.pad(back, (0, len(y) - len(back))).astype(np.float32)


def upsampling_artefacts(y: np.ndarray, rng: np.random.Generator, *, config: UpsamplingConfig = UpsamplingConfig(),
                         sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 (N,) real speech `y` with the periodic images and tones of a vocoder's upsampling chain.

    Args:
        y: float32 (N,) mono speech in [-1, 1] at `sample_rate`.
        rng: source of all randomness; the same seed gives the same result.
        config: ranges of rate, periods and levels.
        sample_rate: rate of `y` and of the result, Hz.

    Returns:
        float32 (N,), same length as `y`.
    """
    return apply_upsampling_artefacts(y, draw_upsampling_params(rng, config), sample_rate=sample_rate,
                                      envelope_s=config.envelope_s)


def _envelope(x: np.ndarray, width: int) -> np.ndarray:
    """Amplitude envelope: |x| smoothed by a moving average of `width` samples."""
    return np.convolve(np.abs(x), np.full(width, 1.0 / width), mode="same")
