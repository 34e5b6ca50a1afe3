"""The learnt sync network (avdetect.branches.sync), its training (avdetect.training.sync) and its feature
block (avdetect.features.sync_learnt), on synthetic talking mouths whose opening follows the sound."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from avdetect.branches.sync import (
    SyncNet,
    SyncNetConfig,
    clip_log_mel,
    load_sync_model,
    resample_mouth,
    save_sync_model,
)
from avdetect.errors import ModelFileError
from avdetect.features.registry import get_extractor
from avdetect.features.sync_learnt import NAMES, ScanConfig, sync_block, sync_learnt_features
from avdetect.pseudofakes.sync import shift_audio
from avdetect.records import AudioFeatures, Clip, Faces, MediaInfo, MelWindows, MouthTrack, Perception
from avdetect.training.sync import Sampler, SyncTrainConfig, contrastive_loss, make_clip

SR, FPS = 16_000, 25.0
TINY = SyncNetConfig(channels=(4, 8, 8, 8), embed_dim=16)


def envelope(duration_s: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Knot times (every 0.2 s) and random syllable loudness in [0, 1]: unrelated beyond ~0.3 s."""
    rng = np.random.default_rng(seed)
    knots = np.arange(0, duration_s + 0.4, 0.2)
    return knots, (rng.random(len(knots)) > 0.4) * rng.uniform(0.3, 1.0, len(knots))


def talking(duration_s: float = 6.0, seed: int = 0) -> tuple[np.ndarray, MouthTrack]:
    """Audio (a buzzing vowel loud where the mouth is open) and a mouth track whose opening follows it."""
    knots, loud = envelope(duration_s, seed)
    t = np.arange(int(duration_s * SR)) / SR
    env = np.interp(t, knots, loud)
    buzz = np.sign(np.sin(2 * np.pi * (110 + 40 * seed % 3) * t)) + 0.3 * np.random.default_rng(seed).standard_normal(len(t))
    audio = (0.3 * env * buzz + 1e-3 * np.random.default_rng(seed + 1).standard_normal(len(t))).astype(np.float32)
    times = np.arange(0, duration_s, 1 / FPS)
    yy, xx = np.mgrid[0:32, 0:64]
    crops = []
    for opening in np.interp(times, knots, loud):
        inside = ((xx - 32) / 20) ** 2 + ((yy - 16) / (1.5 + 12 * opening)) ** 2 <= 1
        crops.append(np.where(inside, 40, 160).astype(np.uint8))
    boxes = np.zeros((len(times), 4), np.float32)
    return audio, MouthTrack(track_id=0, times_s=times, boxes=boxes, crops=np.stack(crops))


def perception(audio: np.ndarray, mouths: tuple[MouthTrack, ...], speech: np.ndarray | None = None) -> Perception:
    duration = len(audio) / SR
    speech = np.array([[0.0, duration]]) if speech is None else speech
    info = MediaInfo(path="synthetic.mp4", format_name="mp4", duration_s=duration, size_bytes=0, has_video=True,
                     has_audio=True)
    clip = Clip(info=info, frames=np.zeros((0, 0, 0, 3), np.uint8), times_s=np.zeros(0), audio=audio, sample_rate=SR)
    windows = MelWindows(np.zeros((0, 80, 197), np.float32), np.zeros(0), np.zeros(0))
    start, end = (float(speech[0, 0]), float(speech[-1, 1])) if len(speech) else (0.0, 0.0)
    sound = AudioFeatures(duration_s=duration, speech_segments=speech, speech_start_s=start, speech_end_s=end,
                          windows=windows)
    faces = Faces(tracks=(), n_frames=0, detected_frame_idx=np.zeros(0, np.int64), detect_scale=1.0)
    return Perception(clip=clip, faces=faces, audio=sound, mouths=mouths)


@pytest.fixture(scope="module")
def trained() -> SyncNet:
    """A tiny network trained for a few seconds on synthetic talkers (not the clips the tests score)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: a second thread only waits (13x slower on a busy 2-core box)
    torch.manual_seed(0)
    config = replace(SyncTrainConfig(), batch_size=8, net=TINY)
    clips = [make_clip(f"c{s}", f"a{s}", perception(*_one(talking(6.0, seed=s))), TINY, 0.5) for s in range(10, 18)]
    sampler, model = Sampler(clips, config, np.random.default_rng(0)), SyncNet(TINY)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        loss = contrastive_loss(model, *sampler.batch())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    torch.set_num_threads(threads)
    return model.eval()


def _one(pair: tuple[np.ndarray, MouthTrack]) -> tuple[np.ndarray, tuple[MouthTrack, ...]]:
    return pair[0], (pair[1],)


def test_towers_embed_windows_to_unit_vectors() -> None:
    config = SyncNetConfig()
    model = SyncNet(config).eval()
    with torch.no_grad():
        v = model.embed_video(torch.randn(3, config.window_frames, *config.crop_hw))
        a = model.embed_audio(torch.randn(3, config.mel_frames, config.n_mels))
    assert v.shape == a.shape == (3, config.embed_dim)
    assert torch.allclose(v.norm(dim=1), torch.ones(3)) and torch.allclose(a.norm(dim=1), torch.ones(3))
    assert config.mel_frames == 40 and config.window_s == pytest.approx(0.4)


def test_preprocessing_resamples_to_the_network_rate_and_standardises_the_log_mel() -> None:
    audio, mouth = talking(3.0)
    thirty = MouthTrack(0, np.arange(0, 3.0, 1 / 30), np.zeros((90, 4), np.float32), np.zeros((90, 32, 64), np.uint8))
    crops, start = resample_mouth(thirty, FPS)
    assert start == 0.0 and len(crops) == 75  # 0 .. 2.96 s at 25 fps
    mel = clip_log_mel(audio, SyncNetConfig())
    assert mel.shape[1] == 40 and abs(len(mel) - 300) <= 3
    assert np.allclose(mel.mean(axis=0), 0, atol=1e-4)


def test_training_loss_falls(trained: SyncNet) -> None:
    config = replace(SyncTrainConfig(), batch_size=8, net=TINY)
    clips = [make_clip(f"c{s}", "a", perception(*_one(talking(6.0, seed=s))), TINY, 0.5) for s in range(10, 18)]
    batch = Sampler(clips, config, np.random.default_rng(5)).batch()
    with torch.no_grad():
        assert contrastive_loss(trained, *batch) < contrastive_loss(SyncNet(TINY).eval(), *batch) - 0.5


def test_in_sync_clip_and_its_shifted_copy_get_different_offsets(trained: SyncNet) -> None:
    audio, mouth = talking(6.0, seed=1)
    real = sync_block(perception(audio, (mouth,)), trained)
    late = sync_block(perception(shift_audio(audio, SR, 0.6), (mouth,)), trained)
    offset = NAMES.index("sync_learnt_offset_s")
    assert real[0] == late[0] == 1.0  # evidence in both
    assert abs(real[offset]) <= 0.1
    assert late[offset] == pytest.approx(0.6, abs=0.1)
    margin = NAMES.index("sync_learnt_zero_margin")
    assert real[margin] > late[margin]


@pytest.mark.parametrize("case", ["silent", "no_face", "no_audio"])
def test_no_sync_evidence_is_nan_not_out_of_sync(trained: SyncNet, case: str) -> None:
    audio, mouth = talking(4.0, seed=2)
    seen = {"silent": perception(np.zeros_like(audio), (mouth,), speech=np.zeros((0, 2))),
            "no_face": perception(audio, ()),
            "no_audio": replace(perception(audio, (mouth,)), audio=None)}[case]
    block = sync_block(seen, trained)
    assert block.shape == (len(NAMES),)
    assert block[0] == 0.0 and block[1] == 0.0 and np.isnan(block[2:]).all()


def test_checkpoint_round_trip_gives_the_same_block(trained: SyncNet, tmp_path) -> None:
    path = save_sync_model(trained, tmp_path, extra={"note": "test"})
    loaded = load_sync_model(path)
    assert loaded.config == TINY
    seen = perception(*_one(talking(4.0, seed=3)))
    assert np.allclose(sync_block(seen, loaded), sync_block(seen, trained), equal_nan=True)
    assert np.allclose(sync_learnt_features(seen, checkpoint=path), sync_block(seen, trained), equal_nan=True)
    half = load_sync_model(save_sync_model(trained, tmp_path / "half", half=True))
    assert np.allclose(sync_block(seen, half), sync_block(seen, trained), atol=0.05, equal_nan=True)


def test_checkpoint_of_another_kind_or_missing_is_refused(trained: SyncNet, tmp_path) -> None:
    path = save_sync_model(trained, tmp_path)
    meta = json.loads(path.read_text())
    meta["config"]["kind"] = "audio"
    path.write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="not a sync checkpoint"):
        load_sync_model(path)
    with pytest.raises(ModelFileError, match="missing"):
        sync_learnt_features(perception(*_one(talking(2.0))), checkpoint=tmp_path / "none.json")


def test_registered_block_names_its_columns() -> None:
    extractor = get_extractor("sync_learnt")
    assert extractor.names == NAMES and NAMES[0] == "sync_learnt_has_sync_evidence"
    assert ScanConfig().max_offset_s >= 0.6  # the shifts pseudo-fakes make are within the scan


def test_registered_block_reads_the_weights_of_a_models_folder(trained: SyncNet, tmp_path) -> None:
    from avdetect.bundle import missing_block_weights

    save_sync_model(trained, tmp_path / "sync")
    seen = perception(*_one(talking(4.0, seed=3)))
    assert np.allclose(get_extractor("sync_learnt")(seen, tmp_path), sync_block(seen, trained), equal_nan=True)
    assert missing_block_weights(tmp_path, ("sync_learnt", "face_motion")) == []
    (problem,) = missing_block_weights(tmp_path / "elsewhere", ("sync_learnt",))
    assert "sync/sync.json" in problem


def test_train_sync_fold_rule_holds_out_that_fold_and_unplaced_rows(tmp_path) -> None:
    from avdetect.commands.train_sync import _fold_rule
    from avdetect.corpus.manifest import ManifestRow

    folds = tmp_path / "folds.csv"
    folds.write_text(f"path,group,fold\n{tmp_path}/a.mp4,a,0\n{tmp_path}/b.mp4,b,1\n")
    held = _fold_rule(folds, 1)
    rows = {name: ManifestRow(path=tmp_path / name, label="REAL", group=name) for name in ("a.mp4", "b.mp4", "c.mp4")}
    assert [held(rows[n]) for n in ("a.mp4", "b.mp4", "c.mp4")] == [False, True, True]
    with pytest.raises(ValueError, match="no fold 5"):
        _fold_rule(folds, 5)
