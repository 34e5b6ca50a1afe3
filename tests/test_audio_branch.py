"""Audio branch: the model, its checkpoint, window labels and the augmentations."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avdetect.branches.audio import AudioClassifier, AudioModelConfig, band_stats
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import ModelFileError
from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig
from avdetect.training.audio_bank import build_bank
from avdetect.training.audio_batches import SpecAugmentConfig, augment_batch
from avdetect.training.audio_data import (
    AMBIGUOUS,
    ChannelConfig,
    ViewConfig,
    add_noise,
    apply_channel,
    make_source,
    match_spectrum,
    mel_smooth,
    window_labels,
)

ENERGY = SpeechConfig(method="energy")  # the synthetic voices here are tones that silero does not take for speech
SR = 16_000
TINY = AudioModelConfig(backbone="test_resnet", dropout=0.0)
MEL = MelConfig()


def voiced(duration_s: float, *, f0: float = 140.0, seed: int = 0) -> np.ndarray:
    """float32 speech-like signal: harmonics of a wavering f0 in 0.25 s syllables over faint noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * SR)) / SR
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 3 * t))) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 25))
    syllables = (np.floor(t / 0.25) % 2 == 0).astype(float)
    smooth = np.convolve(syllables, np.hanning(400) / np.hanning(400).sum(), mode="same")
    return (0.2 * tone * smooth + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def classifier(seed: int = 0) -> AudioClassifier:
    import torch

    torch.manual_seed(seed)
    mean, std = np.full(MEL.n_mels, -40.0, np.float32), np.full(MEL.n_mels, 20.0, np.float32)
    return AudioClassifier.create(mean=mean, std=std, mel=MEL, model=TINY)


def windows(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(-40, 20, (n, MEL.n_mels, MEL.window_frames))).astype(np.float32)


def test_predict_windows_shapes_and_range():
    model = classifier()
    probs = model.predict_windows(windows(5), batch_size=2)
    assert probs.shape == (5,) and probs.dtype == np.float32
    assert np.all(np.isfinite(probs)) and np.all((probs > 0) & (probs < 1))
    assert model.predict_windows(windows(0)).shape == (0,)


def test_default_backbone_builds_without_pretrained_weights():
    mean, std = np.zeros(MEL.n_mels, np.float32), np.ones(MEL.n_mels, np.float32)
    model = AudioClassifier.create(mean=mean, std=std)
    assert model.model.backbone == "resnet10t"
    assert np.all(np.isfinite(model.predict_windows(windows(2))))


def test_predict_windows_rejects_wrong_shape():
    with pytest.raises(ValueError, match="expected windows"):
        classifier().predict_windows(np.zeros((2, 40, MEL.window_frames), np.float32))


def test_unknown_backbone_is_a_value_error():
    with pytest.raises(ValueError, match="unknown timm backbone"):
        AudioClassifier.create(mean=np.zeros(80), std=np.ones(80), model=AudioModelConfig(backbone="nope"))


def test_checkpoint_round_trip_gives_same_predictions_and_config(tmp_path):
    mel = MelConfig(n_mels=64, window_s=1.0)
    speech = SpeechConfig(top_db=35.0)
    model = AudioClassifier.create(mean=np.full(64, -30.0), std=np.full(64, 15.0), mel=mel, speech=speech,
                                   model=TINY)
    x = np.random.default_rng(1).normal(-30, 15, (3, 64, mel.window_frames)).astype(np.float32)
    path = model.save(tmp_path)
    loaded = AudioClassifier.load(path)
    assert loaded.mel == mel and loaded.speech == speech and loaded.model == TINY
    np.testing.assert_allclose(loaded.predict_windows(x), model.predict_windows(x), rtol=1e-5, atol=1e-6)
    config = json.loads(path.read_text())["config"]
    assert config["mel"]["n_fft"] == 512 and config["mel"]["hop_length"] == 160 and len(config["band_mean"]) == 64


def test_checkpoint_of_another_branch_is_refused(tmp_path):
    path = classifier().save(tmp_path)
    meta = json.loads(path.read_text())
    meta["config"]["branch"] = "visual"
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="not the audio branch"):
        AudioClassifier.load(path)


def test_band_stats_match_numpy():
    x = windows(7).astype(np.float16)
    mean, std = band_stats(x, chunk=3)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(std, x.astype(np.float64).std(axis=(0, 2)), rtol=1e-4)


def test_window_labels_from_segment_overlap():
    start = np.array([0.0, 1.0, 2.0, 3.0])
    end = start + 2.0
    labels = window_labels(start, end, np.array([[3.9, 4.1]]), min_overlap_s=0.25)
    assert labels.tolist() == [0, 0, AMBIGUOUS, AMBIGUOUS]
    labels = window_labels(start, end, np.array([[0.5, 1.5], [3.5, 4.5]]), min_overlap_s=0.25)
    assert labels.tolist() == [1, 1, 1, 1]
    assert window_labels(start, end, np.zeros((0, 2)), min_overlap_s=0.25).tolist() == [0, 0, 0, 0]


def test_augment_batch_is_seeded_shape_preserving_and_masks_with_fill():
    x = windows(4)
    config = SpecAugmentConfig(gain_db=(0.0, 0.0), freq_masks=1, freq_width=10, time_masks=1, time_width=30)
    fill = np.full(MEL.n_mels, 123.0, np.float32)
    a = augment_batch(x, np.random.default_rng(3), config, fill=fill)
    b = augment_batch(x, np.random.default_rng(3), config, fill=fill)
    c = augment_batch(x, np.random.default_rng(4), config, fill=fill)
    assert a.shape == x.shape and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all((a == x) | (a == 123.0)) and np.any(a == 123.0)
    gained = augment_batch(x, np.random.default_rng(0), SpecAugmentConfig(gain_db=(5.0, 5.0), freq_masks=0,
                                                                          time_masks=0), fill=fill)
    np.testing.assert_allclose(gained, x + 5.0, rtol=1e-6)


def test_add_noise_hits_the_snr():
    y = voiced(1.0)
    noisy = add_noise(y, np.random.default_rng(0), 20.0)
    snr = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean((noisy - y).astype(np.float64) ** 2))
    assert noisy.shape == y.shape and snr == pytest.approx(20.0, abs=0.01)


def test_channel_is_seeded_and_keeps_length():
    y = voiced(1.0)
    config = ChannelConfig(codec_p=1.0, codecs=("mp3",), noise_p=1.0)
    a = apply_channel(y, np.random.default_rng(5), config, sample_rate=SR)
    b = apply_channel(y, np.random.default_rng(5), config, sample_rate=SR)
    assert a.shape == y.shape and np.array_equal(a, b) and not np.array_equal(a, y)


def test_bank_holds_copies_and_labelled_pseudo_fakes_deterministically():
    source = make_source(ManifestRow(path="/a.wav", label="REAL", group="a"), voiced(4.0))
    views = ViewConfig(copies=1, fakers=("griffin_lim",), full_fakes=1, spliced=1,
                       channel=ChannelConfig(codec_p=0.0, noise_p=0.0))
    extractor = MelExtractor(MEL)
    bank = build_bank([source], extractor, views=views, seed=0, speech=ENERGY)
    again = build_bank([source], extractor, views=views, seed=0, speech=ENERGY)
    assert np.array_equal(bank.mels, again.mels)
    assert bank.mels.shape[1:] == (MEL.n_mels, MEL.window_frames) and bank.mels.dtype == np.float16
    assert set(bank.view.tolist()) == {0, 1, 2}
    assert np.all(bank.labels[bank.view == 0] == 0) and np.all(bank.labels[bank.view == 1] == 1)
    assert np.any(bank.labels[bank.view == 2] == 1)  # the splice has fake windows


def test_bank_is_the_same_cut_in_worker_processes():
    sources = [make_source(ManifestRow(path=f"/{i}.wav", label="REAL", group=str(i)), voiced(2.0, seed=i))
               for i in range(3)]
    views = ViewConfig(copies=1, fakers=("phase",), full_fakes=1, spliced=0,
                       channel=ChannelConfig(codec_p=0.0, noise_p=0.0))
    extractor = MelExtractor(MEL)
    here = build_bank(sources, extractor, views=views, seed=0, speech=ENERGY)
    spread = build_bank(sources, extractor, views=views, seed=0, speech=ENERGY, workers=2)
    for name in ("labels", "source", "view"):
        assert np.array_equal(getattr(here, name), getattr(spread, name)), name
    # the workers run torch on one thread: its FFT may round the last float16 bit differently
    np.testing.assert_allclose(here.mels.astype(np.float32), spread.mels.astype(np.float32), atol=0.05)


def test_manifest_fake_without_segments_is_fake_throughout():
    source = make_source(ManifestRow(path="/f.wav", label="FAKE", group="a", audio_label="FAKE"), voiced(3.0))
    bank = build_bank([source], MelExtractor(MEL), views=ViewConfig(copies=1, full_fakes=0, spliced=0), speech=ENERGY)
    assert len(bank) > 0 and np.all(bank.labels == 1)
    real_audio = make_source(ManifestRow(path="/v.mp4", label="FAKE", group="a", audio_label="REAL"), voiced(1.0))
    assert real_audio.label == 0 and real_audio.fake_segments.shape == (0, 2)


def test_match_spectrum_gives_the_fake_the_long_term_spectrum_of_the_real():
    from scipy import signal

    real = voiced(2.0)
    coloured = signal.sosfilt(signal.butter(2, 1500, "lowpass", fs=SR, output="sos"), real).astype(np.float32)
    matched = match_spectrum(coloured, real)

    def mean_log(y):
        return np.mean(np.log(np.abs(signal.stft(y, nperseg=512)[2]) ** 2 + 1e-12), axis=1)

    assert matched.shape == real.shape and matched.dtype == np.float32
    before, after = np.abs(mean_log(coloured) - mean_log(real)), np.abs(mean_log(matched) - mean_log(real))
    assert np.median(after) < 0.2 * np.median(before)


def test_mel_smooth_keeps_length_and_level_but_smooths_a_real_voice(shared_data):
    from avdetect.perception.video import load_audio

    real = load_audio(shared_data / "speech/vctk/p225_001_mic1.flac", SR)
    smooth = mel_smooth(real, frames=3)
    extractor = MelExtractor(MEL)
    a, b = extractor.log_mel(real), extractor.log_mel(smooth)
    loud = a.max(axis=0) > a.max() - 30
    assert smooth.shape == real.shape and smooth.dtype == np.float32
    assert abs(np.mean(b[:, loud] - a[:, loud])) < 3.0  # same level on average
    def roughness(mel: np.ndarray) -> tuple[float, float]:  # mean change from band to band, frame to frame
        return np.abs(np.diff(mel, axis=0))[:, loud].mean(), np.abs(np.diff(mel, axis=1))[:, loud[1:]].mean()

    assert all(s < 0.97 * r for s, r in zip(roughness(b), roughness(a)))


def test_unknown_faker_or_codec_is_a_value_error():
    with pytest.raises(ValueError, match="unknown voice faker"):
        ViewConfig(fakers=("nope",))
    with pytest.raises(ValueError, match="unknown codec"):
        ViewConfig(channel=ChannelConfig(codecs=("nope",)))
