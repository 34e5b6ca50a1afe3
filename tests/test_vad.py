"""Speech activity: silero-vad behind SpeechConfig(method=...), and the shipped model staying on energy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from avdetect.defaults import SAMPLE_RATE
from avdetect.perception.audio import SpeechConfig, detect_speech
from avdetect.perception.vad import silero_speech
from avdetect.perception.video import load_audio

pytest.importorskip("silero_vad")
REPO = Path(__file__).resolve().parents[1]
SPEECH = ("speech", "librispeech", "103-1240-0000.flac")
SILERO = SpeechConfig(method="silero")


@pytest.fixture(scope="module")
def speech(shared_data: Path) -> np.ndarray:
    """A real LibriSpeech utterance, float32 at 16 kHz."""
    return load_audio(shared_data.joinpath(*SPEECH), SAMPLE_RATE)


def test_silero_finds_the_speech_of_a_real_utterance_and_a_noise_lead_in_is_not_speech(speech):
    rng = np.random.default_rng(0)
    lead = (0.02 * rng.standard_normal(2 * SAMPLE_RATE)).astype(np.float32)  # 2 s of hiss at -34 dBFS
    clean = detect_speech(speech, SAMPLE_RATE, SILERO)
    noisy = detect_speech(np.r_[lead, speech + 0.02 * rng.standard_normal(len(speech))].astype(np.float32),
                          SAMPLE_RATE, SILERO)
    duration = len(speech) / SAMPLE_RATE
    assert clean.shape[1] == 2 and len(clean) >= 1
    assert np.all(np.diff(clean.ravel()) >= 0) and 0 <= clean[0, 0] and clean[-1, 1] <= duration
    assert np.sum(clean[:, 1] - clean[:, 0]) > 0.6 * duration  # read speech: mostly speech
    assert noisy[0, 0] > 1.9  # the hiss before the speech is not taken for it
    assert abs(noisy[0, 0] - 2 - clean[0, 0]) < 0.3


@pytest.mark.parametrize("audio", [np.zeros(2 * SAMPLE_RATE, np.float32), np.zeros(0, np.float32),
                                   (0.05 * np.random.default_rng(1).standard_normal(2 * SAMPLE_RATE)).astype(np.float32)])
def test_silero_finds_no_speech_in_silence_or_noise(audio):
    assert detect_speech(audio, SAMPLE_RATE, SILERO).shape == (0, 2)


def test_silero_settings_come_from_the_speech_config():
    rng = np.random.default_rng(2)
    audio = (0.01 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)
    assert silero_speech(audio, SAMPLE_RATE, min_silence_s=0.3, min_speech_s=0.1, pad_s=0.05).shape == (0, 2)
    with pytest.raises(ValueError, match="resample"):
        silero_speech(audio, 22_050, min_silence_s=0.3, min_speech_s=0.1, pad_s=0.05)


def test_method_is_checked_and_silero_is_the_default():
    assert SpeechConfig().method == "silero"
    with pytest.raises(ValueError, match="valid: energy, silero"):
        SpeechConfig(method="webrtc")


def test_the_shipped_spec_names_its_detector_and_old_checkpoints_stay_on_energy():
    from avdetect.branches.audio import parse_config
    from avdetect.spec import perception_config

    bundle = json.loads((REPO / "avdetect" / "model" / "bundle.json").read_text())
    assert bundle["spec"]["perception"]["speech"]["method"] in ("energy", "silero")  # explicit, never a default
    old = json.loads((REPO / "avdetect" / "model" / "audio" / "audio.json").read_text())["config"]
    old["speech"].pop("method", None)  # checkpoints written before the field existed
    assert parse_config(old, source="old")[1].method == "energy"
    speech = bundle["spec"]["perception"]["speech"]
    assert perception_config(bundle["spec"]["perception"]).speech.method == speech["method"]
