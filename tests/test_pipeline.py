"""The scoring path with the shipped model: verdicts per modality, missing modalities, a verified bundle."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from avdetect.bundle import BUNDLE_FILE, load_bundle, shipped_model_dir
from avdetect.defaults import SAMPLE_RATE
from avdetect.errors import DecodeError, ModelFileError
from avdetect.scoring.modes import FAST, ScoringMode
from avdetect.scoring.pipeline import Detector


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
    assert math.isnan(no_audio.p_audio) and no_audio.n_tracks == 0  # a moving pattern: no face either
    assert math.isnan(no_audio.p_fake) and no_audio.verdict == "inconclusive"  # no evidence, no prior for it


def test_bad_input_raises_typed(detector, bad_inputs):
    with pytest.raises(DecodeError):
        detector.score(bad_inputs["random_bytes"].path)


def test_real_grid_speaker_and_its_shifted_audio(detector, shared_data, tmp_path):
    """Shifting the voice 0.6 s raises p_sync while the faces stay real (p_visual unchanged)."""
    from avdetect.demo import all_frames, write_clip
    from avdetect.perception.video import load_audio
    from avdetect.pseudofakes.sync import shift_audio

    source = shared_data / "video/grid/brbk7n.mpg"
    frames, fps = all_frames(source)
    audio = load_audio(source)
    real = detector.score(write_clip(tmp_path / "real.mp4", frames, fps, audio))
    late = detector.score(write_clip(tmp_path / "late.mp4", frames, fps, shift_audio(audio, SAMPLE_RATE, 0.6)))
    assert late.p_sync > real.p_sync and late.sync.best_lag_s > real.sync.best_lag_s + 0.3
    assert np.isclose(late.p_visual, real.p_visual, atol=0.05)


def test_tampered_bundle_is_refused(tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    load_bundle(copy)
    booster = copy / "stacker" / "booster.txt"
    booster.write_text(booster.read_text() + "\n")
    with pytest.raises(ModelFileError, match="sha256"):
        load_bundle(copy)


def _edited_copy(tmp_path: Path, edit) -> Path:
    """A copy of the shipped bundle whose bundle.json went through `edit(raw)`."""
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    raw = json.loads((copy / BUNDLE_FILE).read_text())
    edit(raw)
    (copy / BUNDLE_FILE).write_text(json.dumps(raw))
    return copy


@pytest.mark.parametrize("edit, field", [
    (lambda raw: raw["spec"]["perception"]["faces"].__setitem__("margin", 0.2), "spec.perception.faces.margin"),
    (lambda raw: raw["spec"]["perception"]["mel"].__setitem__("sample_rate", 22050), "spec.perception"),
    (lambda raw: raw["spec"]["branches"]["audio"]["mel"].__setitem__("n_mels", 64), "spec.branches.audio.mel"),
    (lambda raw: raw["spec"]["perception"]["faces"].__setitem__("blur", 1), "spec.perception.faces.blur"),
])
def test_bundle_disagreeing_with_its_spec_is_refused_naming_the_field(tmp_path, edit, field):
    copy = _edited_copy(tmp_path, edit)
    with pytest.raises(ModelFileError, match=field.replace(".", r"\.")):
        Detector.load(copy)


def test_stacker_feature_the_scorer_cannot_make_is_refused_at_load(tmp_path):
    def ask_for_pitch(raw):
        raw["spec"]["features"] = [*raw["spec"]["features"][:-1], "pitch_jitter"]

    copy = _edited_copy(tmp_path, ask_for_pitch)
    with pytest.raises(ModelFileError, match="spec.features"):
        Detector.load(copy)
    copy = _edited_copy(tmp_path / "b", lambda raw: raw["spec"].__setitem__("extractors", ["face_scores", "crepe"]))
    with pytest.raises(ModelFileError, match="spec.extractors: crepe"):
        Detector.load(copy)


def test_version_1_bundle_is_refused_with_what_to_do(tmp_path):
    copy = _edited_copy(tmp_path, lambda raw: raw.__setitem__("version", 1))
    with pytest.raises(ModelFileError, match="without a scoring spec"):
        load_bundle(copy)


def test_spec_round_trips_and_frames_per_track_reaches_the_scorer(detector):
    from avdetect.spec import ScoringSpec

    spec = detector.spec
    assert ScoringSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.frames_per_track == 8 and spec.perception.decode.sample_rate == spec.perception.mel.sample_rate


def _same_scores(a, b, atol: float = 1e-6) -> None:
    for name in ("p_fake", "p_visual", "p_audio", "p_sync"):
        assert np.isclose(getattr(a, name), getattr(b, name), rtol=0, atol=atol, equal_nan=True), name
    assert a.verdict == b.verdict and a.n_frames == b.n_frames and a.n_tracks == b.n_tracks


def test_overlap_gives_the_sequential_scores(detector, bad_inputs):
    sequential = Detector(detector.bundle, overlap=False)
    for name in ("speech_clip", "audio_only_wav", "video_only"):
        if name in bad_inputs:
            a, b = sequential.score(bad_inputs[name].path), detector.score(bad_inputs[name].path)
            _same_scores(a, b)
            assert np.allclose(a.fake_segments, b.fake_segments) and np.allclose(a.windows.probs, b.windows.probs)
    with pytest.raises(DecodeError):
        sequential.score(bad_inputs["random_bytes"].path)


def test_fast_mode_samples_fewer_frames_and_scores_the_stacker_crops_only(detector, bad_inputs):
    if "speech_clip" not in bad_inputs:
        pytest.skip("needs the shared face images")
    score = Detector(detector.bundle, mode="fast").score(bad_inputs["speech_clip"].path)
    assert score.ok and 0 <= score.p_fake <= 1 and score.n_frames == FAST.n_frames and score.n_tracks == 1
    assert len(score.tracks[0].probs) == min(score.n_frames, detector.spec.frames_per_track or score.n_frames)
    with pytest.raises(DecodeError):
        Detector(detector.bundle, mode="fast").score(bad_inputs["random_bytes"].path)


def test_scoring_only_the_stacker_crops_changes_no_probability(detector, bad_inputs):
    if "speech_clip" not in bad_inputs or not detector.spec.frames_per_track:
        pytest.skip("needs the shared face images and a spec with frames_per_track")
    crops_only = Detector(detector.bundle, mode=ScoringMode("crops", stacker_crops_only=True))
    full, picked = detector.score(bad_inputs["speech_clip"].path), crops_only.score(bad_inputs["speech_clip"].path)
    _same_scores(full, picked, atol=1e-5)  # the CNN's batch differs: float noise only
    assert len(picked.tracks[0].probs) == detector.spec.frames_per_track < len(full.tracks[0].probs)


def test_inputs_without_a_face_are_fused_by_the_voice_stacker(tmp_path):
    """The stacker learnt from videos with a face; a bundle's voice stacker fuses the rest."""
    from avdetect.bundle import assemble_bundle
    from avdetect.features.registry import VIDEO_EXTRACTORS
    from avdetect.scoring.scores import TrackScores, WindowScores
    from stacking.bundle import load_bundle as load_stacker
    from stacking.bundle import save_bundle
    from stacking.decision import DecisionBand

    shipped = load_bundle()
    video = load_stacker(shipped.stacker)
    save_bundle(tmp_path / "voice", video.stacker, aggregate=video.aggregate,
                band=DecisionBand(low=0.0, high=0.0, max_error=0.2))  # calls everything it fuses fake
    for name in shipped.spec.extractors:  # the weights of blocks that have some travel with the spec
        if name in VIDEO_EXTRACTORS and VIDEO_EXTRACTORS[name].checkpoint:
            weights = Path(VIDEO_EXTRACTORS[name].checkpoint).parent
            shutil.copytree(shipped.directory / weights, tmp_path / "m" / weights)
    assemble_bundle(tmp_path / "m", stacker=shipped.stacker, spec=shipped.spec, visual=shipped.visual,
                    audio=shipped.audio, voice=tmp_path / "voice")
    routed, plain = Detector.load(tmp_path / "m"), Detector.load(shipped.directory)
    assert load_bundle(tmp_path / "m").voice == tmp_path / "m" / "voice"
    blocks = {name: np.full(len(VIDEO_EXTRACTORS[name].names), np.nan)
              for name in shipped.spec.extractors if name in VIDEO_EXTRACTORS}
    windows = WindowScores(np.array([0.0, 1.0]), np.array([2.0, 3.0]), np.array([0.2, 0.3], np.float32))
    track = TrackScores(0, np.arange(8) * 0.1, np.full(8, 0.2, np.float32), 100.0, np.zeros((224, 224, 3), np.uint8))
    voice_only = routed.fuse("voice.wav", (), windows, None, blocks)
    assert voice_only["verdict"] == "fake" and voice_only["why"].startswith("no face: the voice model decides")
    none = WindowScores(np.zeros(0), np.zeros(0), np.zeros(0, np.float32))
    nothing = routed.fuse("silence.wav", (), none, None, blocks)  # no face, no speech: no evidence either way
    assert nothing["verdict"] == "inconclusive" and nothing["why"].startswith("no face, voice or lip-sync found")
    silent = plain.fuse("silence.wav", (), none, None, blocks)  # the shipped voice stacker calibrates a score:
    assert np.isnan(silent["p_fake"]) and silent["verdict"] == "inconclusive"  # without one, no prior stands in
    with_face = [d.fuse("talk.mp4", (track,), windows, None, blocks) for d in (routed, plain)]
    assert with_face[0]["verdict"] == with_face[1]["verdict"] and with_face[0]["p_fake"] == with_face[1]["p_fake"]


def test_the_shipped_voice_verdict_takes_the_band_of_its_seconds_of_speech():
    """The voice stacker holds each decided verdict to its error within each bin of detected speech: a voice
    the encoder finds fairly real is called real on 8 s of speech, left inconclusive on 1.5 s (where "real"
    calls err more, so the short voices' real side is stricter)."""
    from avdetect.features.registry import VIDEO_EXTRACTORS
    from avdetect.scoring.scores import WindowScores

    shipped = Detector.load(load_bundle().directory)
    binned = shipped.voice.binned
    assert binned is not None and binned.column == "speech_s" and binned.edges == (2.0, 4.0)
    shortest, longest = binned.bands[0], binned.bands[-1]
    assert shortest.low < longest.low
    blocks = {name: np.full(len(VIDEO_EXTRACTORS[name].names), np.nan)
              for name in shipped.spec.extractors if name in VIDEO_EXTRACTORS}

    def voice(seconds: float, logit: float) -> dict:
        blocks["voice_embed"] = np.array([logit, 0.8, 0.7])
        starts = np.arange(0.0, seconds - 1.0 + 1e-9, 0.5)  # 1 s windows, half overlapping
        windows = WindowScores(starts, starts + 1.0, np.full(len(starts), 0.2, np.float32))
        return shipped.fuse("voice.wav", (), windows, None, blocks)

    # a logit whose p_fake the long voices' band calls real and the short voices' does not
    logit = next(x for x in np.arange(-6.0, 2.0, 0.05) if shortest.low <= voice(8.0, x)["p_fake"] < longest.low)
    short, long = voice(1.5, logit), voice(8.0, logit)
    assert short["p_fake"] == long["p_fake"]  # the same score, as the stacker reads no length
    assert short["verdict"] == "inconclusive" and short["why"].endswith("(band for speech_s under 2)")
    assert long["verdict"] == "real" and long["why"].endswith("(band for speech_s 4 or more)")
