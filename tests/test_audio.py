"""Speech detection, silence trimming and log-mel windows."""

from __future__ import annotations

import numpy as np
import pytest

from avdetect.defaults import SAMPLE_RATE
from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig, analyze_audio, detect_speech
from avdetect.perception.video import load_audio

SR = SAMPLE_RATE
ENERGY = SpeechConfig(method="energy")  # these tests use noise bursts, which only it takes for speech


def _bursts(spans: list[tuple[float, float]], duration: float, *, noise: float = 1e-3) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(duration * SR)) / SR
    audio = noise * rng.standard_normal(len(t))
    for start, end in spans:
        inside = (t >= start) & (t < end)
        audio[inside] += 0.3 * np.sin(2 * np.pi * 180 * t[inside]) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t[inside]))
    return audio.astype(np.float32)


def test_leading_and_trailing_silence_are_found():
    segments = detect_speech(_bursts([(1.0, 2.0), (2.1, 3.0)], 4.0), SR, ENERGY)
    assert len(segments) == 1  # a 0.1 s pause is inside speech
    assert segments[0, 0] == pytest.approx(1.0, abs=0.08) and segments[0, 1] == pytest.approx(3.0, abs=0.08)


def test_long_pause_splits_speech():
    segments = detect_speech(_bursts([(0.5, 1.5), (2.5, 3.5)], 4.0), SR, ENERGY)
    assert len(segments) == 2 and segments[1, 0] == pytest.approx(2.5, abs=0.08)


def test_digital_silence_and_empty_audio_have_no_speech():
    assert detect_speech(np.zeros(SR * 2, np.float32), SR, ENERGY).shape == (0, 2)
    assert detect_speech(np.zeros(0, np.float32), SR, ENERGY).shape == (0, 2)


def test_clicks_shorter_than_min_speech_are_dropped():
    audio = _bursts([(1.0, 1.03)], 3.0)
    assert detect_speech(audio, SR, SpeechConfig(min_speech_s=0.1, method="energy")).shape == (0, 2)


def test_windows_carry_source_times_and_cover_the_speech():
    extractor = MelExtractor()
    features = analyze_audio(_bursts([(1.0, 4.5)], 6.0), SR, extractor, ENERGY)
    w = features.windows
    assert w.mels.shape == (len(w.start_s), 80, MelConfig().window_frames) and w.mels.dtype == np.float32
    assert w.start_s[0] == pytest.approx(features.speech_start_s)
    assert w.end_s[-1] == pytest.approx(features.speech_end_s)
    assert np.all(np.diff(w.start_s) <= 1.0 + 1e-9) and np.isfinite(w.mels).all()


def test_short_speech_is_looped_not_zero_padded():
    features = analyze_audio(_bursts([(0.5, 1.2)], 2.0), SR, MelExtractor(), ENERGY)
    mels = features.windows.mels
    assert len(mels) == 1 and mels[0].mean(axis=0).min() > -60  # no frame of digital silence


def test_no_speech_gives_empty_windows():
    features = analyze_audio(np.zeros(SR, np.float32), SR, MelExtractor())
    assert features.windows.mels.shape == (0, 80, MelConfig().window_frames) and features.speech_s == 0


def test_sample_rate_mismatch_is_refused():
    with pytest.raises(ValueError, match="Hz"):
        analyze_audio(np.zeros(8000, np.float32), 8000, MelExtractor())


def test_window_frames_match_the_transform():
    cfg = MelConfig()
    mel = MelExtractor(cfg).log_mel(np.zeros(int(cfg.window_s * cfg.sample_rate), np.float32))
    assert mel.shape == (cfg.n_mels, cfg.window_frames)


@pytest.mark.parametrize("method, end_after", [("energy", 2.3), ("silero", 2.0)])
def test_grid_clip_speech_starts_after_its_silent_lead(shared_data, method, end_after):
    audio = load_audio(shared_data / "video/grid/bbaf2n.mpg")
    features = analyze_audio(audio, SR, MelExtractor(), SpeechConfig(method=method))
    assert 0.5 < features.speech_start_s < 1.2 and end_after < features.speech_end_s < 2.98
