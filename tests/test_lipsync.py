"""Sync features: the correlation peak sits at the audio's offset."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from avdetect.perception.lipsync import (
    SyncConfig,
    audio_envelope,
    clip_sync,
    cross_correlation,
    mouth_motion,
    speech_band,
    speech_within,
    sync_features,
)
from avdetect.records import MouthTrack

FPS, SR = 25, 16_000


def _talking(seconds: float, seed: int = 0) -> tuple[MouthTrack, np.ndarray]:
    """Syllables (0.2-0.3 s raised-cosine bursts at random gaps): the mouth opens and closes with each,
    and a 150 Hz voice sounds with the same envelope."""
    rng = np.random.default_rng(seed)
    t_video, t_audio = np.arange(int(seconds * FPS)) / FPS, np.arange(int(seconds * SR)) / SR
    openness_v, openness_a = np.zeros(len(t_video)), np.zeros(len(t_audio))
    start = 0.3
    while start < seconds - 0.4:
        length = rng.uniform(0.2, 0.3)
        for t, o in ((t_video, openness_v), (t_audio, openness_a)):
            inside = (t >= start) & (t < start + length)
            o[inside] = np.sin(np.pi * (t[inside] - start) / length) ** 2
        start += length + rng.uniform(0.1, 0.6)
    crops = np.full((len(t_video), 32, 64), 120, np.uint8)
    for i, o in enumerate(openness_v):
        h = int(2 + 14 * o)
        crops[i, 16 - h // 2 : 16 + h // 2 + 1, 16:48] = 30  # a dark mouth opening
    audio = 0.3 * openness_a * np.sin(2 * np.pi * 150 * t_audio) + 1e-3 * rng.standard_normal(len(t_audio))
    return MouthTrack(0, t_video, np.zeros((len(t_video), 4), np.float32), crops), audio.astype(np.float32)


def _shift(audio: np.ndarray, seconds: float) -> np.ndarray:
    n = int(round(abs(seconds) * SR))
    if seconds > 0:
        return np.concatenate([np.zeros(n, np.float32), audio[:-n]])
    return np.concatenate([audio[n:], np.zeros(n, np.float32)])


def test_cross_correlation_finds_a_known_lag():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(200)
    lags, curve = cross_correlation(x, np.roll(x, 5), 10)
    assert lags[np.argmax(curve)] == 5 and curve.max() > 0.9


def test_envelope_is_loud_where_the_sound_is():
    audio = np.zeros(SR, np.float32)
    audio[SR // 2 :] = 0.5
    env = audio_envelope(audio, SR, np.array([0.1, 0.9]), 0.04)
    assert env[0] < -90 and env[1] > -10


@pytest.mark.parametrize("offset", [0.4, -0.6])
def test_best_lag_follows_the_audio_offset(offset):
    # Motion (how much the mouth changes) leads loudness a little even in sync, so compare to in-sync.
    mouth, audio = _talking(8.0)
    in_sync = sync_features((mouth,), audio, SR)
    shifted = sync_features((mouth,), _shift(audio, offset), SR)
    assert abs(in_sync.best_lag_s) <= 0.2
    assert shifted.best_lag_s - in_sync.best_lag_s == pytest.approx(offset, abs=0.1)
    assert shifted.peak > 0.3 and shifted.window_agreement >= 0.5


def test_in_sync_beats_shifted_at_lag_zero():
    mouth, audio = _talking(8.0)
    real = sync_features((mouth,), audio, SR)
    shifted = sync_features((mouth,), _shift(audio, 0.5), SR)
    assert real.at_zero > shifted.at_zero + 0.2


def test_missing_audio_or_mouth_gives_none():
    mouth, audio = _talking(2.0)
    assert sync_features((mouth,), np.zeros(0, np.float32), SR) is None
    assert sync_features((), audio, SR) is None


def test_without_speech_in_the_mouth_s_span_there_is_no_sync_evidence():
    mouth, audio = _talking(8.0)  # mouth frames from 0 to 7.96 s
    assert speech_within(np.array([[-1.0, 0.5], [7.5, 9.0]]), mouth.times_s) == pytest.approx(0.96)
    assert sync_features((mouth,), audio, SR, speech_segments=np.zeros((0, 2))) is None  # music, silence
    assert sync_features((mouth,), audio, SR, speech_segments=np.array([[7.5, 9.0]])) is None  # 0.46 s
    gated = sync_features((mouth,), audio, SR, speech_segments=np.array([[0.0, 8.0]]))
    assert gated.peak == sync_features((mouth,), audio, SR).peak  # enough speech: the same features


def test_a_clip_is_gated_by_its_own_speech_and_ungated_when_it_was_not_analysed():
    mouth, audio = _talking(8.0)
    clip = SimpleNamespace(audio=audio, sample_rate=SR)
    silent = SimpleNamespace(mouths=(mouth,), clip=clip, audio=SimpleNamespace(speech_segments=np.zeros((0, 2))))
    assert clip_sync(silent) is None
    unknown = SimpleNamespace(mouths=(mouth,), clip=clip, audio=None)
    assert clip_sync(unknown).peak == sync_features((mouth,), audio, SR).peak


def test_real_grid_speaker_is_in_sync_and_a_shift_is_seen(shared_data):
    from avdetect.perception.perceiver import Perceiver

    seen = Perceiver()(shared_data / "video/grid/brbk7n.mpg")
    for config in (SyncConfig(), SyncConfig(motion_search_px=3, speech_band_hz=(300.0, 3400.0))):
        real = sync_features(seen.mouths, seen.clip.audio, SR, config)
        shifted = sync_features(seen.mouths, _shift(seen.clip.audio, 0.5), SR, config)
        assert abs(real.best_lag_s) <= 0.2 and shifted.best_lag_s == pytest.approx(0.5, abs=0.15)


def _moving_head(mouth: MouthTrack, seed: int = 1) -> MouthTrack:
    """The same mouth on a textured face that wanders by a crop pixel or so each frame (a talker who moves,
    as the interpolated mouth box sees them)."""
    rng = np.random.default_rng(seed)
    texture = rng.integers(60, 200, mouth.crops.shape[1:]).astype(np.int16)
    offsets = np.clip(np.cumsum(rng.integers(-1, 2, (len(mouth.crops), 2)), axis=0), -4, 4)
    crops = []
    for crop, offset in zip(mouth.crops.astype(np.int16), offsets):
        face = np.where(crop == 120, texture, crop)  # skin texture around the dark opening
        crops.append(np.roll(face, tuple(offset), axis=(0, 1)))
    return MouthTrack(mouth.track_id, mouth.times_s, mouth.boxes, np.clip(crops, 0, 255).astype(np.uint8))


def test_motion_search_ignores_a_sliding_face_but_not_an_opening_mouth():
    rng = np.random.default_rng(0)
    still = np.repeat(rng.integers(0, 255, (1, 32, 64)), 10, axis=0)
    sliding = np.stack([np.roll(still[0], (i % 3 - 1, 2 * (i % 2) - 1), axis=(0, 1))
                        for i in range(10)]).astype(np.uint8)
    assert mouth_motion(sliding)[1:].min() > 0.5  # the plain difference sees the slide as motion
    assert mouth_motion(sliding, search_px=3)[1:].max() < 0.05
    mouth, _ = _talking(4.0)
    plain, searched = mouth_motion(mouth.crops), mouth_motion(mouth.crops, search_px=3)
    assert np.corrcoef(plain, searched)[0, 1] > 0.8 and searched.max() > 0.2


def test_speech_band_keeps_the_voice_and_drops_hum_and_hiss():
    t = np.arange(SR) / SR
    voice, hum, hiss = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 50 * t), np.sin(2 * np.pi * 7000 * t)
    assert np.std(speech_band(voice, SR, (300, 3400))) == pytest.approx(np.std(voice), rel=0.05)
    assert np.std(speech_band(hum + hiss, SR, (300, 3400))) < 0.02
    assert np.array_equal(speech_band(voice[:10], SR, (300, 3400)), voice[:10])  # too short to filter


def test_motion_search_and_speech_band_keep_the_lag_of_a_talker_who_moves():
    mouth, audio = _talking(8.0)
    moving = _moving_head(mouth)
    t = np.arange(len(audio)) / SR
    hum = (0.3 * np.sin(2 * np.pi * 50 * t) * (1 + np.sin(2 * np.pi * 0.7 * t))).astype(np.float32)
    noisy = audio + hum  # a mains hum whose loudness wanders
    config = SyncConfig(motion_search_px=3, speech_band_hz=(300.0, 3400.0))
    plain, robust = sync_features((moving,), noisy, SR), sync_features((moving,), noisy, SR, config)
    assert abs(robust.best_lag_s) <= 0.2 and robust.peak > plain.peak + 0.2
    shifted = sync_features((moving,), _shift(noisy, 0.5), SR, config)
    assert shifted.best_lag_s - robust.best_lag_s == pytest.approx(0.5, abs=0.1)


def test_the_sync_motion_block_is_nan_without_evidence_and_finite_with_it():
    from avdetect.features.sync_motion import NAMES, sync_motion_features

    mouth, audio = _talking(8.0)
    clip = SimpleNamespace(audio=audio, sample_rate=SR)
    talking = SimpleNamespace(mouths=(_moving_head(mouth),), clip=clip, audio=SimpleNamespace(
        speech_segments=np.array([[0.0, 8.0]])))
    values = sync_motion_features(talking)
    assert values.shape == (len(NAMES),) and np.isfinite(values).all()
    assert abs(values[NAMES.index("sync_motion_best_lag_s")]) <= 0.2
    silent = SimpleNamespace(mouths=(mouth,), clip=clip, audio=SimpleNamespace(speech_segments=np.zeros((0, 2))))
    assert np.isnan(sync_motion_features(silent)).all()
