"""Audio branch training: waveforms from the cache, the trainer under folds_loop, a tiny end-to-end run."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from test_audio_branch import SR, voiced

from avdetect.branches.audio import AudioClassifier, AudioModelConfig
from avdetect.corpus.cache import save_perception
from avdetect.corpus.cache_index import cache_loader
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import AvdetectError, CacheError, NoAudioError
from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig
from avdetect.records import Clip, Faces, MediaInfo, Perception
from avdetect.training.audio import AudioTrainConfig, AudioTrainer, load_sources, perception_audio
from avdetect.training.audio_data import ChannelConfig, ViewConfig, make_source
from avdetect.training.epochs import TrainConfig
from avdetect.training.folds_loop import run_folds

ENERGY = SpeechConfig(method="energy")  # the synthetic voices are tones that silero does not take for speech

NO_CHANNEL = ChannelConfig(codec_p=0.0, noise_p=0.3)
SMALL_MEL = MelConfig(n_mels=40, window_s=1.0, stride_s=0.5)


def notched(y: np.ndarray, band_hz: tuple[float, float] = (900.0, 2200.0)) -> np.ndarray:
    """`y` with a band of its spectrum removed: a crude stand-in for a vocoder's spectral trace."""
    spectrum = np.fft.rfft(y)
    freqs = np.fft.rfftfreq(len(y), 1 / SR)
    spectrum[(freqs > band_hz[0]) & (freqs < band_hz[1])] *= 0.03
    return np.fft.irfft(spectrum, n=len(y)).astype(np.float32)


def speakers(n: int, duration_s: float = 3.0) -> tuple[list, np.ndarray]:
    """Sources (a real utterance and its notched fake per speaker, grouped) and their folds (2)."""
    sources = []
    for k in range(n):
        y = voiced(duration_s, f0=100.0 + 9.0 * k, seed=k)
        for label, audio in (("REAL", y), ("FAKE", notched(y))):
            row = ManifestRow(path=f"/s{k}_{label}.wav", label=label, group=f"spk{k}", audio_label=label)
            sources.append(make_source(row, audio))
    return sources, np.array([int(s.group[3:]) % 2 for s in sources])


def tiny_config(**train) -> AudioTrainConfig:
    """timm's smallest ConvNeXt on 40 mel bands and 1 s windows: trains in seconds on one core."""
    options = {"epochs": 2, "batch_size": 16, "steps_per_epoch": 8, "lr": 3e-3, **train}
    return AudioTrainConfig(model=AudioModelConfig(backbone="test_convnext", dropout=0.0), mel=SMALL_MEL, speech=ENERGY,
                            views=ViewConfig(copies=1, full_fakes=0, spliced=0, channel=NO_CHANNEL),
                            train=TrainConfig(**options))


def perception(audio: np.ndarray, sample_rate: int = SR) -> Perception:
    info = MediaInfo(path="x.wav", format_name="wav", duration_s=len(audio) / sample_rate, size_bytes=0,
                     has_video=False, has_audio=len(audio) > 0)
    clip = Clip(info=info, frames=np.zeros((0, 0, 0, 3), np.uint8), times_s=np.zeros(0), audio=audio,
                sample_rate=sample_rate)
    faces = Faces(tracks=(), n_frames=0, detected_frame_idx=np.zeros(0, np.int64), detect_scale=1.0)
    return Perception(clip=clip, faces=faces, audio=None)


def test_waveform_comes_from_the_cache_and_bad_entries_are_typed_errors(tmp_path):
    y = voiced(1.0)
    for name, audio in (("a", y), ("silent", np.zeros(0, np.float32)), ("low", y)):
        save_perception(tmp_path / f"{name}.npz", perception(audio, 8000 if name == "low" else SR))
    index = "path,key,status,n_tracks,n_frames,n_windows,seconds\n"
    index += "".join(f"/data/{name}.wav,{name},ok,0,0,0,0.1\n" for name in ("a", "silent", "low"))
    (tmp_path / "index.csv").write_text(index)
    load = cache_loader(tmp_path)
    audio = perception_audio(load(Path("/data/a.wav")), sample_rate=SR)
    assert audio.dtype == np.float32 and np.max(np.abs(audio - y)) < 1e-4  # int16 in the cache
    with pytest.raises(NoAudioError):
        perception_audio(load(Path("/data/silent.wav")), sample_rate=SR)
    with pytest.raises(CacheError, match="8000 Hz"):
        perception_audio(load(Path("/data/low.wav")), sample_rate=SR)
    rows = [ManifestRow(path=Path(f"/data/{n}.wav"), label="REAL", group=n) for n in ("a", "b", "silent")]
    sources, skipped = load_sources(rows, lambda p: perception_audio(load(p), sample_rate=SR))
    assert [s.path for s in sources] == ["/data/a.wav"]
    assert skipped == ["/data/b.wav: cache_error", "/data/silent.wav: no_audio"]


def test_samples_are_clean_windows_and_untrainable_sources_stay_out_of_training():
    sources, _ = speakers(2)
    sources.append(make_source(ManifestRow(path="/quiet.wav", label="REAL", group="q"), np.zeros(SR, np.float32)))
    config = AudioTrainConfig(views=ViewConfig(copies=1, fakers=("world",), full_fakes=1, spliced=0,
                                               channel=NO_CHANNEL), speech=ENERGY)
    trainer = AudioTrainer(sources, config=config, trainable=[True, False, True, False, True])
    assert trainer.silent == ["/quiet.wav"] and "/quiet.wav" not in set(trainer.index.videos)
    n_clean = len(MelExtractor().windows(sources[0].audio, 0.0, 3.0).mels)
    assert 4 <= len(trainer.index) and 1 <= Counter(trainer.index.videos)["/s0_REAL.wav"] <= n_clean
    used = trainer.training_windows(np.arange(len(trainer.index))).source
    assert set(used.tolist()) == {0, 2}  # the fakes (1, 3) are untrainable and the silent file has no window
    assert np.all(trainer.index.tracks == -1) and trainer.index.positions[0] == 0


@pytest.mark.slow
def test_tiny_run_beats_chance_with_oof_once_per_window_and_disjoint_groups(tmp_path):
    sources, folds_by_source = speakers(10)
    trainer = AudioTrainer(sources, config=tiny_config(), bank_path=tmp_path / "bank.npz")
    folds = folds_by_source[trainer.clean.source]
    fitted = []
    fit = trainer.fit

    def spy(rows, **kwargs):
        fitted.append({sources[i].group for i in trainer.training_windows(rows).source})
        return fit(rows, **kwargs)

    trainer.fit = spy
    metrics = run_folds(trainer, folds, out_dir=tmp_path)
    for k, train_groups in enumerate(fitted):  # no window of a held-out group was trained on
        assert train_groups and not train_groups & set(trainer.index.groups[folds == k])
    with (tmp_path / "oof.csv").open() as f:
        oof = list(csv.DictReader(f))
    assert len(oof) == len(trainer.index)
    assert all(0 < float(r["end_s"]) - float(r["time_s"]) <= SMALL_MEL.window_s + 1e-6 for r in oof)
    keys = Counter((r["path"], r["position"]) for r in oof)
    assert max(keys.values()) == 1 and {r["path"] for r in oof} == {s.path for s in sources}
    assert all(len({r["fold"] for r in oof if r["path"] == p}) == 1 for p in {r["path"] for r in oof})
    assert metrics.oof.auc > 0.8, metrics["oof"]
    assert json.loads((tmp_path / "metrics.json").read_text())["oof_video"]["auc"] > 0.8
    model = AudioClassifier.load(tmp_path / "fold0" / "model.json")
    held = np.flatnonzero(folds == 0)
    np.testing.assert_allclose(model.predict_windows(trainer.clean.mels[held].astype(np.float32)),
                               trainer.predict(model, held), rtol=1e-5)


class Interrupt(Exception):
    pass


def test_killed_run_resumes_to_the_same_model(tmp_path):
    sources, _ = speakers(2, duration_s=2.5)
    trainer = AudioTrainer(sources, config=tiny_config(epochs=2, steps_per_epoch=2))
    rows = np.arange(len(trainer.index))
    whole, curves = trainer.fit(rows, state_dir=tmp_path / "whole")

    def kill_in_second_epoch(tick):
        if tick.step > tick.total // 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        trainer.fit(rows, state_dir=tmp_path / "killed", progress=kill_in_second_epoch)
    resumed, resumed_curves = trainer.fit(rows, state_dir=tmp_path / "killed")
    assert [c["loss"] for c in resumed_curves] == pytest.approx([c["loss"] for c in curves])
    x = trainer.clean.mels.astype(np.float32)
    np.testing.assert_allclose(resumed.predict_windows(x), whole.predict_windows(x), rtol=1e-4, atol=1e-6)
    changed = AudioTrainer(sources, config=tiny_config(epochs=3, steps_per_epoch=2))
    with pytest.raises(AvdetectError, match="other options"):  # another schedule cannot resume this state
        changed.fit(rows, state_dir=tmp_path / "killed")


def write_wav(path: Path, audio: np.ndarray) -> Path:
    import av
    from media import _add_audio, _encode_audio

    with av.open(str(path), "w") as container:
        stream = _add_audio(container, "pcm_s16le", SR, 1, None)
        _encode_audio(container, stream, audio[None, :])
        container.mux(stream.encode(None))
    return path


@pytest.mark.slow
def test_train_audio_command_runs_from_the_cache(tmp_path):
    from avdetect.cli import main
    from avdetect.corpus.folds import assign_folds, write_folds
    from avdetect.corpus.manifest import write_manifest

    rows = []
    for source in speakers(2, duration_s=2.5)[0]:
        path = write_wav(tmp_path / Path(source.path).name, source.audio)
        rows.append(ManifestRow(path=path, label="FAKE" if source.label else "REAL", group=source.group,
                                audio_label="FAKE" if source.label else "REAL"))
    write_manifest(rows, tmp_path / "manifest.csv")
    write_folds(rows, assign_folds(rows, n_splits=2), tmp_path / "folds.csv")
    assert main(["extract", str(tmp_path / "manifest.csv"), "-o", str(tmp_path / "cache"), "--workers", "0",
                 "--speech", "energy"]) == 0
    out = tmp_path / "run"
    assert main(["train", "audio", "--manifest", str(tmp_path / "manifest.csv"), "--folds", str(tmp_path / "folds.csv"),
                 "--cache", str(tmp_path / "cache"), "-o", str(out), "--quick", "--backbone", "test_convnext",
                 "--fakers", "world"]) == 0
    with (out / "oof.csv").open() as f:
        oof = list(csv.DictReader(f))
    assert {r["path"] for r in oof} == {str(row.path) for row in rows}
    assert (out / "fold1" / "model.json").is_file() and (out / "curves.png").is_file()
    assert AudioClassifier.load(out / "fold0" / "model.json").model.backbone == "test_convnext"
