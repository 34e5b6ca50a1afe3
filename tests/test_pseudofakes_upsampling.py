"""Vocoder upsampling artefacts: periodic images and tones at the emulated internal rate."""

from __future__ import annotations

import numpy as np
import pytest

from avdetect.pseudofakes.upsampling import (
    UpsamplingConfig,
    UpsamplingParams,
    apply_upsampling_artefacts,
    draw_upsampling_params,
    upsampling_artefacts,
)
from avdetect.training.audio_data import FAKERS

SR = 16000


def tone(hz: float, seconds: float = 1.0, amplitude: float = 0.3) -> np.ndarray:
    return (amplitude * np.sin(2 * np.pi * hz * np.arange(int(seconds * SR)) / SR)).astype(np.float32)


def level_db(y: np.ndarray, hz: float, width: float = 20.0) -> float:
    """Power of `y` within `width` Hz of `hz`, dB."""
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return float(10 * np.log10(spectrum[np.abs(freqs - hz) < width].sum() + 1e-20))


def one_image(period: int, gain: float, *, rate: int = SR) -> UpsamplingParams:
    images = np.zeros(period // 2, complex)
    images[0] = gain
    return UpsamplingParams(rate, (period,), (images,), (np.zeros(period // 2, complex),))


def test_a_periodic_gain_puts_images_of_a_tone_at_multiples_of_rate_over_period() -> None:
    y = tone(500.0)
    out = apply_upsampling_artefacts(y, one_image(8, 0.05))  # carrier at 16000 / 8 = 2000 Hz
    for image in (1500.0, 2500.0):
        assert level_db(out, image) - level_db(out, 500.0) == pytest.approx(20 * np.log10(0.05), abs=1.5)
        assert level_db(out, image) - level_db(y, image) > 40  # absent from the original
    assert level_db(out, 3500.0) - level_db(out, 500.0) < -60  # nothing where no image belongs


def test_the_internal_rate_sets_where_the_images_fall() -> None:
    out = apply_upsampling_artefacts(tone(500.0), one_image(8, 0.05, rate=24000))  # 24000 / 8 = 3000 Hz
    assert level_db(out, 2500.0) - level_db(out, 500.0) == pytest.approx(-26, abs=2)
    assert level_db(out, 1500.0) - level_db(out, 500.0) < -50


def test_artefacts_keep_length_dtype_and_follow_the_seed() -> None:
    y = tone(300.0, seconds=0.7)
    a = upsampling_artefacts(y, np.random.default_rng(3))
    b = upsampling_artefacts(y, np.random.default_rng(3))
    assert a.dtype == np.float32 and a.shape == y.shape
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, upsampling_artefacts(y, np.random.default_rng(4)))
    assert upsampling_artefacts(np.zeros(0, np.float32), np.random.default_rng(0)).shape == (0,)


def test_drawn_artefacts_stay_well_below_the_speech() -> None:
    y = tone(200.0) + tone(1200.0, amplitude=0.1)
    residuals = []
    for seed in range(20):
        out = upsampling_artefacts(y, np.random.default_rng(seed))
        residuals.append(10 * np.log10(np.mean((out - y) ** 2) / np.mean(y**2)))
        assert np.isfinite(out).all() and np.abs(out).max() < 1.0
    # A draw whose images all fall above 8 kHz (period 2 at 22.05 kHz) leaves the band untouched.
    assert max(residuals) < -3 and np.median(residuals) > -40


def test_drawn_parameters_respect_the_config() -> None:
    config = UpsamplingConfig(rates=(22050,), periods=(4, 8), n_periods=(2, 2))
    params = draw_upsampling_params(np.random.default_rng(0), config)
    assert params.rate == 22050 and sorted(params.periods) == [4, 8]
    assert [len(g) for g in params.image_gains] == [p // 2 for p in params.periods]


@pytest.mark.parametrize("name", ["upsampler", "vocoder"])
def test_registered_as_training_fakers(name: str) -> None:
    y = tone(220.0, seconds=1.0)
    out = FAKERS[name](y, np.random.default_rng(0))
    assert out.shape == y.shape and out.dtype == np.float32 and not np.allclose(out, y)
