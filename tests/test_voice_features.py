"""The voice feature blocks: names, NaN rows without speech, and values that mean what they say."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from avdetect.defaults import SAMPLE_RATE
from avdetect.features import pitch, voice_spectrum
from avdetect.features.registry import VIDEO_EXTRACTORS, get_extractor
from avdetect.features.speech_span import audio_perception, speech_excerpt
from avdetect.perception.audio import SpeechConfig
from avdetect.perception.video import load_audio

pytest.importorskip("torchcrepe")
BLOCKS = ("voice_pitch", "voice_spectrum")


def buzz(f0: float = 150.0, seconds: float = 2.0, *, vibrato_st: float = 0.0) -> np.ndarray:
    """A glottal-like pulse train at ``f0`` Hz (optionally with a 5 Hz vibrato), float32, -12 dBFS peaks."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    freq = f0 * 2 ** (vibrato_st / 12 * np.sin(2 * np.pi * 5 * t))
    phase = np.cumsum(freq) / SAMPLE_RATE
    return (0.25 * np.sum([np.sin(2 * np.pi * k * phase) / k for k in range(1, 20)], axis=0)).astype(np.float32)


@pytest.fixture(scope="module")
def real_speech(shared_data: Path) -> np.ndarray:
    return load_audio(shared_data / "speech" / "librispeech" / "103-1240-0000.flac", SAMPLE_RATE)


def test_blocks_are_registered_with_unique_prefixed_names():
    for name, prefix in zip(BLOCKS, ("pitch_", "spec_")):
        names = get_extractor(name).names
        assert names and len(set(names)) == len(names) and all(n.startswith(prefix) for n in names)
    every = [n for extractor in VIDEO_EXTRACTORS.values() for n in extractor.names]
    assert len(every) == len(set(every))  # no column shared with another block


@pytest.mark.parametrize("name", BLOCKS)
def test_no_audio_and_silence_give_nan_rows(name):
    silent = audio_perception(np.zeros(2 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    assert speech_excerpt(silent, 3.0) is None
    no_audio = replace(silent, audio=None)
    extractor = get_extractor(name)
    for seen in (silent, no_audio):
        row = extractor(seen)
        assert row.shape == (len(extractor.names),) and np.all(np.isnan(row))


def test_pitch_of_a_steady_buzz_is_periodic_and_smooth_and_noise_is_not():
    steady = pitch.pitch_row(buzz(150.0), SAMPLE_RATE)
    wobbly = pitch.pitch_row(buzz(150.0, vibrato_st=2.0), SAMPLE_RATE)
    noise = pitch.pitch_row((0.1 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE)).astype(np.float32),
                            SAMPLE_RATE)
    col = {n: i for i, n in enumerate(pitch.NAMES)}
    assert steady[col["pitch_periodicity_q50"]] > 0.8 and steady[col["pitch_voiced_fraction"]] > 0.9
    assert noise[col["pitch_periodicity_q50"]] < 0.5 and noise[col["pitch_voiced_fraction"]] < 0.2
    assert steady[col["pitch_f0_range_st"]] < 0.5 < wobbly[col["pitch_f0_range_st"]]
    assert steady[col["pitch_jitter_mean_st"]] < wobbly[col["pitch_jitter_mean_st"]]


def test_spectrum_sees_a_narrow_high_tone_and_a_missing_high_band():
    from scipy.signal import butter, sosfilt

    base = buzz(150.0, vibrato_st=2.0) + (0.01 * np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE)).astype(np.float32)
    t = np.arange(len(base)) / SAMPLE_RATE
    tones = base + 0.002 * np.sum([np.sin(2 * np.pi * f * t) for f in (4800, 5600, 6400)], axis=0)
    lowpassed = sosfilt(butter(8, 4000, fs=SAMPLE_RATE, output="sos"), base).astype(np.float32)
    col = {n: i for i, n in enumerate(voice_spectrum.NAMES)}
    plain, peaked, dull = (voice_spectrum.spectrum_row(a.astype(np.float32), SAMPLE_RATE)
                           for a in (base, tones, lowpassed))
    assert np.all(np.isfinite(plain))
    assert peaked[col["spec_peak_max_db"]] > plain[col["spec_peak_max_db"]] + 6
    assert dull[col["spec_ratio_4k_db"]] < plain[col["spec_ratio_4k_db"]] - 10
    assert dull[col["spec_rolloff99_hz"]] <= 4200


def test_real_speech_gives_finite_plausible_rows(real_speech):
    seen = audio_perception(real_speech, SAMPLE_RATE)
    row = get_extractor("voice_pitch")(seen)
    col = {n: i for i, n in enumerate(pitch.NAMES)}
    assert np.all(np.isfinite(row))
    assert 0.3 < row[col["pitch_voiced_fraction"]] < 0.95  # read speech: voiced and unvoiced sounds
    assert 2 < row[col["pitch_f0_range_st"]] < 36  # an intonation contour (with CREPE's octave slips)
    assert np.all(np.isfinite(get_extractor("voice_spectrum")(seen)))


def test_speech_excerpt_is_the_middle_of_the_speech_capped():
    silence = np.zeros(SAMPLE_RATE, np.float32)
    energy = SpeechConfig(method="energy")  # a buzz is not speech to silero
    seen = audio_perception(np.r_[silence, buzz(150.0, seconds=4.0), silence], SAMPLE_RATE, energy)
    span = seen.audio.speech_end_s - seen.audio.speech_start_s
    assert 3.9 < span < 4.3
    assert len(speech_excerpt(seen, 2.0)) == pytest.approx(2 * SAMPLE_RATE, abs=1)
    assert len(speech_excerpt(seen, 10.0)) == pytest.approx(span * SAMPLE_RATE, abs=2)
