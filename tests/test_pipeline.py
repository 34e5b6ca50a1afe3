"""The scoring path with the shipped model: verdicts per modality, missing modalities, a verified bundle."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest

from avdetect.bundle import load_bundle_spec, shipped_model_dir
from avdetect.errors import DecodeError, ModelFileError
from avdetect.pipeline import Detector


@pytest.fixture(scope="module")
def detector():
    return Detector.load()


def test_talking_face_gets_every_verdict(detector, bad_inputs):
    if "speech_clip" not in bad_inputs:
        pytest.skip("needs the shared face images")
    score = detector.score(bad_inputs["speech_clip"].path)
    assert score.ok and 0 <= score.p_fake <= 1
    assert not math.isnan(score.p_visual) and not math.isnan(score.p_audio)
    assert score.n_tracks == 1 and len(score.tracks[0].probs) == score.n_frames
    assert score.tracks[0].thumbnail.shape == (224, 224, 3) and score.fake_segments.shape[1] == 2


def test_missing_modalities_are_nan_not_errors(detector, bad_inputs):
    audio_only = detector.score(bad_inputs["audio_only_wav"].path)
    assert math.isnan(audio_only.p_visual) and math.isnan(audio_only.p_sync) and 0 <= audio_only.p_fake <= 1
    no_audio = detector.score(bad_inputs["video_only"].path)
    assert math.isnan(no_audio.p_audio) and 0 <= no_audio.p_fake <= 1


def test_bad_input_raises_typed(detector, bad_inputs):
    with pytest.raises(DecodeError):
        detector.score(bad_inputs["random_bytes"].path)


def test_real_grid_speaker_and_its_shifted_audio(detector, shared_data, tmp_path):
    """Shifting the voice 0.6 s raises p_sync while the faces stay real (p_visual unchanged)."""
    from avdetect.demo import all_frames, write_clip
    from avdetect.pseudofakes.sync import shift_audio
    from avdetect.video import load_audio

    source = shared_data / "video/grid/brbk7n.mpg"
    frames, fps = all_frames(source)
    audio = load_audio(source)
    real = detector.score(write_clip(tmp_path / "real.mp4", frames, fps, audio))
    late = detector.score(write_clip(tmp_path / "late.mp4", frames, fps, shift_audio(audio, 16_000, 0.6)))
    assert late.p_sync > real.p_sync and late.sync.best_lag_s > real.sync.best_lag_s + 0.3
    assert np.isclose(late.p_visual, real.p_visual, atol=0.05)


def test_tampered_bundle_is_refused(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    load_bundle_spec(copy)
    booster = copy / "stacker" / "booster.txt"
    booster.write_text(booster.read_text() + "\n")
    with pytest.raises(ModelFileError, match="sha256"):
        load_bundle_spec(copy)
