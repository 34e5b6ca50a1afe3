"""Voice pseudo-fakes: Griffin-Lim and WORLD re-synthesis, codec round trips, splices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import signal

from avdetect.pseudofakes._spans import draw_spans, rms
from avdetect.pseudofakes.codecs import CODECS, codec_roundtrip
from avdetect.pseudofakes.voice import (
    VOICE_FAKERS,
    griffin_lim,
    phase_resynth,
    splice,
    voice_fake,
    warp_envelope,
    world_resynth,
)

SR = 16000


def voiced(duration_s: float = 1.5, f0: float = 140.0, *, seed: int = 0, noise: float = 0.003) -> np.ndarray:
    """float32 speech-like signal: harmonics of a wavering f0 in 0.25 s syllables, over faint noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 11))
    syllables = (np.floor(t / 0.25) % 2 == 0).astype(float)  # on 0-0.25 s, off 0.25-0.5 s, ...
    smooth = np.convolve(syllables, np.hanning(400) / np.hanning(400).sum(), mode="same")
    return (0.2 * tone * smooth + noise * rng.standard_normal(len(t))).astype(np.float32)


def peak_hz(y: np.ndarray, low: float = 60.0, high: float = 1000.0) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    band = (freqs > low) & (freqs < high)
    return float(freqs[band][np.argmax(spectrum[band])])


def best_lag(a: np.ndarray, b: np.ndarray, max_lag: int) -> int:
    """Lag of b relative to a (b later is positive) that maximises their cross-correlation."""
    full = signal.correlate(b, a, mode="full", method="fft")
    lags = signal.correlation_lags(len(b), len(a), mode="full")
    keep = np.abs(lags) <= max_lag
    return int(lags[keep][np.argmax(full[keep])])


def envelope(y: np.ndarray, frame: int = 160) -> np.ndarray:
    n = len(y) // frame
    return np.sqrt(np.mean(y[: n * frame].reshape(n, frame) ** 2, axis=1))


def formant_tone(duration_s: float = 1.0, f0: float = 120.0, formant_hz: float = 1000.0) -> np.ndarray:
    """float32 harmonics of a wavering f0 under one formant (a Gaussian bump at `formant_hz`)."""
    t = np.arange(int(duration_s * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.02 * np.sin(2 * np.pi * 3 * t))) / SR
    amplitude = [np.exp(-0.5 * ((k * f0 - formant_hz) / 200.0) ** 2) for k in range(1, 40)]
    return (0.1 * sum(a * np.sin(k * phase) for k, a in enumerate(amplitude, start=1))).astype(np.float32)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Griffin-Lim on two threads of a busy two-core machine ran 10-50x slower than on one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    return voiced()


def test_griffin_lim_keeps_length_and_spectrum_but_not_samples(speech):
    out = griffin_lim(speech, n_iter=16)
    assert out.shape == speech.shape and out.dtype == np.float32
    assert np.array_equal(out, griffin_lim(speech, n_iter=16))  # zero initial phase: deterministic
    assert np.abs(out - speech).max() > 0.01
    assert np.corrcoef(envelope(out), envelope(speech))[0, 1] > 0.9


def test_world_keeps_duration_within_one_percent(speech):
    out = world_resynth(speech)
    assert out.shape == speech.shape and out.dtype == np.float32
    lag = best_lag(envelope(speech), envelope(out), max_lag=20)  # 10 ms frames
    assert abs(lag) * 160 <= 0.01 * len(speech)
    assert np.corrcoef(envelope(out), envelope(speech))[0, 1] > 0.9


def test_world_pitch_shift_of_an_octave_doubles_f0():
    tone = voiced(1.0, f0=150.0, noise=0.0)
    syllable = slice(8000, 12000)  # 0.5 s .. 0.75 s, voiced throughout
    assert peak_hz(tone[syllable]) == pytest.approx(150.0, rel=0.06)
    shifted = world_resynth(tone, pitch_shift=12.0)[syllable]
    assert peak_hz(shifted) == pytest.approx(300.0, rel=0.06)


def test_formant_shift_moves_the_spectral_centroid_by_the_ratio():
    def centroid(y):
        power = np.abs(np.fft.rfft(y[2000:-2000])) ** 2
        return float(np.sum(np.fft.rfftfreq(len(y) - 4000, 1 / SR) * power) / power.sum())

    tone = formant_tone()
    assert centroid(world_resynth(tone)) == pytest.approx(1000.0, rel=0.1)
    assert centroid(world_resynth(tone, formant_shift=1.3)) == pytest.approx(1300.0, rel=0.1)
    assert centroid(world_resynth(tone, formant_shift=0.8)) == pytest.approx(800.0, rel=0.1)


def test_warp_envelope_moves_a_peak_by_the_ratio():
    env = np.zeros((1, 513))
    env[0, 100] = 1.0
    assert int(np.argmax(warp_envelope(env, 1.2)[0])) == 120


@pytest.mark.parametrize("codec", sorted(CODECS))
def test_codec_roundtrip_keeps_length_and_alignment_and_changes_the_signal(speech, codec):
    out = codec_roundtrip(speech, codec)
    assert out.shape == speech.shape and out.dtype == np.float32
    assert not np.allclose(out, speech, atol=1e-3)
    assert abs(best_lag(speech, out, max_lag=400)) <= 1
    assert np.corrcoef(envelope(out), envelope(speech))[0, 1] > 0.9


@pytest.mark.parametrize("codec", ["telephone", "amr"])
def test_narrowband_codecs_cut_above_4_khz(codec):
    noise = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.1
    out = codec_roundtrip(noise, codec)
    freqs, power_in = signal.welch(noise, SR)
    _, power_out = signal.welch(out, SR)
    high = freqs > 4200
    assert power_out[high].sum() < 0.01 * power_in[high].sum()


def test_unknown_names_raise_value_errors_listing_the_valid_ones(speech):
    with pytest.raises(ValueError, match="opus"):
        codec_roundtrip(speech, "gsm")
    with pytest.raises(ValueError, match="griffin_lim"):
        voice_fake("wavenet", speech, np.random.default_rng(0))
    with pytest.raises(ValueError, match="harvest"):
        world_resynth(speech, f0_method="yin")


@pytest.mark.parametrize("name", sorted(VOICE_FAKERS))
def test_every_voice_faker_keeps_length_and_changes_the_audio(speech, name):
    out = voice_fake(name, speech[:SR], np.random.default_rng(0))
    assert out.shape == (SR,) and out.dtype == np.float32
    assert np.abs(out - speech[:SR]).max() > 0.01


@pytest.mark.parametrize("seed", range(5))
def test_splice_segments_are_exactly_where_the_audio_differs(speech, seed):
    fake = voiced(seed=seed + 1, f0=220.0)
    out, segments = splice(speech, fake, np.random.default_rng(seed))
    assert out.shape == speech.shape and out.dtype == np.float32
    assert segments.ndim == 2 and segments.shape[1] == 2 and 1 <= len(segments) <= 3
    assert np.all(np.diff(segments.reshape(-1)) > 0) and segments.min() >= 0 and segments.max() <= len(speech) / SR
    inside = np.zeros(len(speech), bool)
    for start, end in np.rint(segments * SR).astype(int):
        inside[start:end] = True
        middle = slice(start + 200, end - 200)  # past the 10 ms cross-fades
        assert np.allclose(out[middle], fake[middle] * (rms(speech) / rms(fake)), atol=1e-3, rtol=0.05)
    assert np.array_equal(out[~inside], speech[~inside])


def test_splice_takes_a_shorter_fake_from_anywhere(speech):
    out, segments = splice(speech, voiced(0.6, seed=3), np.random.default_rng(0), length_s=(0.3, 0.5))
    spans = np.rint(segments * SR).astype(int)
    assert np.all(spans[:, 1] - spans[:, 0] <= 0.6 * SR)
    changed = np.flatnonzero(out != speech)
    assert changed.min() >= spans[0, 0] and changed.max() < spans[-1, 1]


def test_draw_spans_refuses_audio_too_short():
    with pytest.raises(ValueError, match="too short"):
        draw_spans(np.random.default_rng(0), SR // 4, SR)


def test_world_keeps_the_duration_of_real_speech(shared_data):
    from avdetect.perception.video import load_audio

    path = sorted((shared_data / "speech" / "librispeech").glob("*.flac"))[0]
    real = load_audio(path)[: 3 * SR]
    out = world_resynth(real)
    assert out.shape == real.shape
    assert abs(best_lag(envelope(real), envelope(out), max_lag=30)) * 160 <= 0.01 * len(real)


def test_phase_resynthesis_keeps_the_magnitudes_and_changes_the_waveform(speech):
    from avdetect.perception.audio import MelConfig, MelExtractor

    out = phase_resynth(speech, np.random.default_rng(0))
    assert out.shape == speech.shape and out.dtype == np.float32
    np.testing.assert_array_equal(out, phase_resynth(speech, np.random.default_rng(0)))
    assert np.sqrt(np.mean((out - speech) ** 2)) > 0.2 * np.sqrt(np.mean(speech**2))  # another waveform
    extractor = MelExtractor(MelConfig())
    real, fake = extractor.log_mel(speech), extractor.log_mel(out)
    loud = real.mean(0) > np.median(real.mean(0))
    assert abs(np.mean(fake[:, loud] - real[:, loud])) < 1.0  # same level, band by band, within a dB
    assert np.mean(np.abs(fake[:, loud].mean(1) - real[:, loud].mean(1))) < 1.5
    assert phase_resynth(speech[:100], np.random.default_rng(0)).shape == (100,)  # shorter than a frame
