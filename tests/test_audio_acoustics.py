"""The voice CNN's random rooms, equalisers and low-passes: seeded, level-keeping, off by default."""

from __future__ import annotations

import random

import numpy as np
import pytest

from avdetect.corpus.manifest import ManifestRow
from avdetect.perception.audio import MelConfig, SpeechConfig
from avdetect.errors import EngineMissingError
from avdetect.training.audio_acoustics import AcousticsConfig, apply_acoustics, check_installed
from avdetect.training.audio_bank import bank_fingerprint
from avdetect.training.audio_data import ChannelConfig, ViewConfig, apply_channel, make_source

SR = 16_000
ALL = AcousticsConfig(room_p=1.0, eq_p=1.0, lowpass_p=1.0)


def noise(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def band_power_db(y: np.ndarray, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    return float(10 * np.log10(spectrum[(freqs >= low) & (freqs < high)].mean()))


def test_off_by_default_and_draws_nothing():
    y = noise()
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert apply_acoustics(y, a, AcousticsConfig(), sample_rate=SR) is y
    assert a.random() == b.random()  # the generator did not move: banks made before stay the same
    plain = apply_channel(y, np.random.default_rng(1), ChannelConfig(codec_p=0.0), sample_rate=SR)
    off = apply_channel(y, np.random.default_rng(1), ChannelConfig(codec_p=0.0, acoustics=AcousticsConfig()),
                        sample_rate=SR)
    assert np.array_equal(plain, off)


def test_seeded_by_our_generator_and_leaves_the_global_ones_alone():
    y = noise()
    py_state, np_state = random.getstate(), np.random.get_state()
    first = apply_acoustics(y, np.random.default_rng(5), ALL, sample_rate=SR)
    assert random.getstate() == py_state
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    again = apply_acoustics(y, np.random.default_rng(5), ALL, sample_rate=SR)
    other = apply_acoustics(y, np.random.default_rng(6), ALL, sample_rate=SR)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert first.dtype == np.float32 and first.shape == y.shape


def test_level_is_kept():
    y = noise()
    out = apply_acoustics(y, np.random.default_rng(0), ALL, sample_rate=SR)
    assert np.sqrt(np.mean(out**2)) == pytest.approx(np.sqrt(np.mean(y**2)), rel=1e-3)


def test_room_leaves_a_reverberant_tail_after_a_click():
    click = np.zeros(SR, np.float32)
    click[1000] = 0.5
    out = apply_acoustics(click, np.random.default_rng(0), AcousticsConfig(room_p=1.0), sample_rate=SR)
    tail = out[1000 + int(0.05 * SR): 1000 + int(0.3 * SR)]  # 50-300 ms after the click
    assert np.sqrt(np.mean(tail**2)) > 1e-3  # the dry click has nothing there


def test_lowpass_removes_the_high_band():
    y = noise()
    out = apply_acoustics(y, np.random.default_rng(0), AcousticsConfig(lowpass_p=1.0), sample_rate=SR)
    assert band_power_db(y, 7600, 8000) - band_power_db(out, 7600, 8000) > 10
    assert abs(band_power_db(y, 200, 1500) - band_power_db(out, 200, 1500)) < 3


def test_equaliser_colours_the_spectrum():
    y = noise(2.0)
    out = apply_acoustics(y, np.random.default_rng(0), AcousticsConfig(eq_p=1.0), sample_rate=SR)
    edges = np.geomspace(100, 7900, 9)
    change = [band_power_db(out, lo, hi) - band_power_db(y, lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]
    assert np.ptp(change) > 3  # some bands raised against others


@pytest.mark.parametrize("name", ["room_p", "eq_p", "lowpass_p"])
def test_probabilities_must_be_probabilities(name):
    with pytest.raises(ValueError, match=name):
        AcousticsConfig(**{name: 1.5})


def test_bank_fingerprint_names_the_acoustics_only_when_on():
    sources = [make_source(ManifestRow(path="/a.wav", label="REAL", group="a"), noise())]

    def fingerprint(acoustics: AcousticsConfig) -> str:
        views = ViewConfig(channel=ChannelConfig(acoustics=acoustics))
        return bank_fingerprint(sources, views=views, mel=MelConfig(), speech=SpeechConfig(), seed=0)

    assert fingerprint(AcousticsConfig()) == fingerprint(AcousticsConfig(lowpass_hz=(1000.0, 2000.0)))
    assert fingerprint(AcousticsConfig()) != fingerprint(AcousticsConfig(room_p=0.3))


def test_a_missing_audiomentations_is_named_before_any_work(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "audiomentations", None)  # import fails as when it is not installed
    check_installed(AcousticsConfig())  # off: nothing needed
    with pytest.raises(EngineMissingError, match="pip install --no-deps audiomentations"):
        check_installed(AcousticsConfig(room_p=0.3))
