"""Audio-visual pseudo-fakes: shifted, replaced and partly replaced audio of a video."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from avdetect.pseudofakes._spans import rms
from avdetect.pseudofakes.sync import (
    MIN_NOISE_RMS,
    noise_floor,
    partly_replace,
    random_shift,
    replace_audio,
    shift_audio,
)

SR = 16000
NOISE = 1e-3  # background level of the test audio


def click_track(duration_s: float = 3.0, click_s: float = 1.2, seed: int = 0) -> np.ndarray:
    """float32 faint noise with one sharp click at `click_s`."""
    y = (NOISE * np.random.default_rng(seed).standard_normal(int(duration_s * SR))).astype(np.float32)
    at = int(click_s * SR)
    y[at : at + 8] += np.hanning(8).astype(np.float32)
    return y


def speechy(duration_s: float = 3.0, seed: int = 0) -> np.ndarray:
    """float32 noise bursts of varying loudness over a faint floor."""
    rng = np.random.default_rng(seed)
    gains = np.repeat(rng.uniform(0.02, 0.3, int(duration_s * 10)), SR // 10)
    return (gains * rng.standard_normal(len(gains)) + NOISE * rng.standard_normal(len(gains))).astype(np.float32)


def lag_s(reference: np.ndarray, moved: np.ndarray) -> float:
    """Seconds `moved` is behind `reference`, from the peak of their cross-correlation."""
    full = signal.correlate(moved, reference, mode="full", method="fft")
    return float(signal.correlation_lags(len(moved), len(reference), mode="full")[np.argmax(full)]) / SR


@pytest.mark.parametrize("offset_s", [0.2, 0.35, 1.0, -0.2, -0.5, -1.0])
def test_shift_audio_moves_a_click_by_the_offset(offset_s):
    audio = click_track()
    out = shift_audio(audio, SR, offset_s)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert lag_s(audio, out) == pytest.approx(offset_s, abs=1 / SR)


def test_shift_pads_with_noise_at_the_recordings_floor_and_is_deterministic():
    audio = click_track()
    out = shift_audio(audio, SR, 0.5)
    pad = out[: SR // 2]
    assert 0.5 * NOISE < rms(pad) < 2 * NOISE  # neither digital silence nor loud
    assert np.array_equal(out, shift_audio(audio, SR, 0.5))
    assert np.array_equal(out[SR // 2 :], audio[: -SR // 2])


def test_noise_floor_finds_the_background_under_loud_speech():
    audio = click_track(3.0)
    audio[: 2 * SR] += 0.2 * np.random.default_rng(1).standard_normal(2 * SR).astype(np.float32)
    assert noise_floor(audio, SR) == pytest.approx(NOISE, rel=0.3)
    assert noise_floor(np.zeros(SR, np.float32), SR) == MIN_NOISE_RMS


@pytest.mark.parametrize("seed", range(5))
def test_random_shift_offsets_lie_in_the_asked_range(seed):
    audio = click_track()
    out, offset = random_shift(audio, SR, np.random.default_rng(seed))
    assert 0.2 <= abs(offset) <= 1.0
    assert lag_s(audio, out) == pytest.approx(offset, abs=1 / SR)


@pytest.mark.parametrize("other_s", [2.0, 5.0])
def test_replace_audio_keeps_length_and_loudness(other_s):
    audio, other = speechy(3.0, seed=0), speechy(other_s, seed=1)
    out = replace_audio(audio, other, sample_rate=SR)
    assert out.shape == audio.shape and out.dtype == np.float32
    assert rms(out) == pytest.approx(rms(audio), rel=0.01)
    n = min(len(other), len(audio))
    assert np.corrcoef(out[:n], other[:n])[0, 1] > 0.99


@pytest.mark.parametrize("seed", range(5))
def test_partly_replace_segments_are_exactly_where_the_audio_differs(seed):
    audio, other = speechy(4.0, seed=0), speechy(4.0, seed=1)
    out, segments = partly_replace(audio, other, np.random.default_rng(seed), sample_rate=SR)
    assert out.shape == audio.shape and 1 <= len(segments) <= 2
    inside = np.zeros(len(audio), bool)
    for start, end in np.rint(segments * SR).astype(int):
        assert end - start >= 0.5 * SR - 1
        inside[start:end] = True
        assert np.corrcoef(out[start + 200 : end - 200], other[start + 200 : end - 200])[0, 1] > 0.99
    assert np.array_equal(out[~inside], audio[~inside])
    again, _ = partly_replace(audio, other, np.random.default_rng(seed), sample_rate=SR)
    assert np.array_equal(out, again)
