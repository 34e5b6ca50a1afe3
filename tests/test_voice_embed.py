"""The voice_embed block: the speaker encoder on speech, its linear head, and the heads' training."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from avdetect.cli import main
from avdetect.corpus.cache import save_perception
from avdetect.corpus.folds import write_folds
from avdetect.corpus.manifest import ManifestRow, write_manifest
from avdetect.defaults import SAMPLE_RATE
from avdetect.errors import ModelFileError
from avdetect.features import voice_embed
from avdetect.features.registry import get_extractor
from avdetect.features.speech_span import audio_perception
from avdetect.perception.video import load_audio
from avdetect.training.voice_embed import HeadConfig, encode_rows, fit_head

pytest.importorskip("resemblyzer")


@pytest.fixture(scope="module")
def speech(shared_data: Path) -> dict[str, np.ndarray]:
    folder = shared_data / "speech" / "librispeech"
    return {name: load_audio(folder / f"{name}.flac", SAMPLE_RATE) for name in ("103-1240-0000", "1040-133433-0000")}


def test_encoding_is_normalised_loudness_free_and_resemblyzers_own(speech):
    audio = speech["103-1240-0000"]
    found = voice_embed.encode(audio, SAMPLE_RATE)
    quiet = voice_embed.encode(audio * 0.05, SAMPLE_RATE)
    assert found.embedding.shape == (256,) and found.partials.shape[1] == 256 and len(found.partials) >= 2
    assert found.features.shape == (voice_embed.N_FEATURES,) and np.all(np.isfinite(found.features))
    assert np.isclose(np.linalg.norm(found.embedding), 1, atol=1e-4)
    # the speech is brought to one loudness first
    assert np.allclose(found.embedding, quiet.embedding, atol=1e-3)
    assert np.allclose(found.features, quiet.features, atol=1e-3)
    # the layers run one by one give the encoder's own embedding of the same speech
    level = np.float32(10 ** (voice_embed.TARGET_DBFS / 20) / np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    own, partials, _ = voice_embed.encoder().embed_utterance(audio * level, return_partials=True,
                                                             rate=voice_embed.PARTIAL_RATE)
    assert np.allclose(found.embedding, own, atol=1e-5) and np.allclose(found.partials, partials, atol=1e-5)
    every_layer = voice_embed.encode(audio, SAMPLE_RATE, first_layer=0).features  # what the benchmark compares
    assert every_layer.shape == (3 * 768 + voice_embed.SPECTRUM_FEATURES,)
    assert np.allclose(every_layer[768:], found.features, atol=1e-6)
    with pytest.raises(ValueError, match="16000"):
        voice_embed.encode(audio, 8000)


def test_spectral_shape_of_noise_and_a_tone_has_known_answers():
    rng, t = np.random.default_rng(0), np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    half = voice_embed.SPECTRUM_FEATURES // 2
    noise = voice_embed.spectral_shape(rng.standard_normal(len(t)).astype(np.float32))
    inner = slice(2, half - 2)  # the window's edge bins aside
    # white noise: a flat shape, and each bin's log power spread as the log of an exponential (pi / sqrt 6)
    assert noise.shape == (voice_embed.SPECTRUM_FEATURES,) and np.abs(noise[:half][inner]).max() < 0.3
    assert np.allclose(np.median(noise[half:][inner]), np.pi / np.sqrt(6), atol=0.05)
    tone = 0.3 * np.sin(2 * np.pi * 2000 * t) + 1e-3 * rng.standard_normal(len(t))
    shape = voice_embed.spectral_shape(tone.astype(np.float32))
    peak = 2000 * voice_embed.SPECTRUM_FFT // SAMPLE_RATE  # bin 64
    # a steady tone barely varies over time (its edge frames aside)
    assert int(np.argmax(shape[:half])) == peak and shape[half + peak] < 0.2
    # the shape, not the level; and a stretch shorter than one window keeps the width
    assert np.allclose(voice_embed.spectral_shape((tone * 0.01).astype(np.float32)), shape, atol=1e-3)
    assert voice_embed.spectral_shape(np.ones(100, np.float32)).shape == (voice_embed.SPECTRUM_FEATURES,)


def test_one_speaker_is_closer_to_itself_than_to_another(speech):
    a = speech["103-1240-0000"]
    first = voice_embed.encode(a[: len(a) // 2], SAMPLE_RATE).embedding
    second = voice_embed.encode(a[len(a) // 2 :], SAMPLE_RATE).embedding
    other = voice_embed.encode(speech["1040-133433-0000"], SAMPLE_RATE).embedding
    assert first @ second > first @ other


def head_of(direction: np.ndarray, bias: float = 0.0) -> voice_embed.EmbedHead:
    d = len(direction)
    return voice_embed.EmbedHead(np.zeros(d), np.ones(d), direction.astype(np.float64), bias, {})


def test_block_row_and_head_round_trip(tmp_path, speech):
    found = voice_embed.encode(speech["103-1240-0000"], SAMPLE_RATE)
    unit = found.features / np.linalg.norm(found.features)
    head = head_of(unit, bias=-0.5)
    path = head.save(tmp_path / voice_embed.CHECKPOINT)
    again = voice_embed.load_head(path)
    row = voice_embed.block_row(found, again)
    assert row[0] == pytest.approx(np.linalg.norm(found.features) - 0.5, rel=1e-4)  # its own direction + bias
    assert -1 <= row[2] <= row[1] <= 1
    seen = audio_perception(speech["103-1240-0000"], SAMPLE_RATE)
    measured = get_extractor("voice_embed")(seen, tmp_path)  # a models folder holding voice_embed/head.json
    assert measured == pytest.approx(voice_embed.block_row(voice_embed.speech_encoding(seen), again), abs=1e-5)
    with pytest.raises(ModelFileError, match="reads 256 features"):  # a head of the speaker embedding (until 12-06)
        voice_embed.block_row(found, head_of(found.embedding))


def test_silence_gives_nan_and_a_bad_head_a_typed_error(tmp_path, speech):
    silent = audio_perception(np.zeros(2 * SAMPLE_RATE, np.float32), SAMPLE_RATE)
    for seen in (silent, replace(silent, audio=None)):
        assert np.all(np.isnan(voice_embed.compute(seen, checkpoint=tmp_path / "missing.json")))
    spoken = audio_perception(speech["103-1240-0000"], SAMPLE_RATE)
    with pytest.raises(ModelFileError):
        voice_embed.compute(spoken, checkpoint=tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text(json.dumps({"mean": [0, 0], "scale": [1], "coef": [1, 1], "intercept": 0}))
    with pytest.raises(ModelFileError, match="disagree"):
        voice_embed.load_head(tmp_path / "bad.json")


def test_fit_head_separates_two_clouds_and_needs_both_classes():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (40, 8)), rng.normal(0, 1, (20, 8)) + 3])
    y = np.array([0] * 40 + [1] * 20)
    head = fit_head(x, y, HeadConfig(c=1.0))
    logits = np.array([head.logit(v) for v in x])
    assert logits[y == 1].min() > logits[y == 0].max()
    assert head.meta["n_real"] == 40 and head.meta["n_fake"] == 20
    with pytest.raises(ValueError, match="real and fake"):
        fit_head(x[:40], y[:40])


def test_train_voice_embed_fits_one_head_per_fold_that_never_saw_it(tmp_path, speech, capsys):
    """The recipe's step on a tiny manifest: embed the cached rows, fit a head on all and one without each fold,
    then measure every row out of fold with `video-features --models --folds`."""
    cache = tmp_path / "cache"
    cache.mkdir()
    rows, index = [], ["path,key,status,n_tracks,n_frames,n_windows,seconds"]
    for i in range(8):
        audio = speech["103-1240-0000" if i % 2 else "1040-133433-0000"]
        path = tmp_path / f"v{i}.flac"
        save_perception(cache / f"k{i}.npz", audio_perception(audio[i * 800 :], SAMPLE_RATE))
        index.append(f"{path},k{i},ok,0,0,1,1.0")
        label = "FAKE" if i % 2 else "REAL"
        rows.append(ManifestRow(path=path, label=label, group=f"g{i}", audio_label=label))
    dub = ManifestRow(path=tmp_path / "v0.mp4#dub=v1.mp4", label="FAKE", group="g0", audio_label="FAKE")
    (cache / "index.csv").write_text("\n".join([*index, f"{dub.path},k1,ok,0,0,1,1.0"]) + "\n")
    write_manifest([*rows, dub], tmp_path / "m.csv")
    write_folds([*rows, dub], np.array([i // 2 for i in range(8)] + [0]), tmp_path / "folds.csv")
    models = tmp_path / "models"
    train = ["train-voice-embed", str(tmp_path / "m.csv"), "--cache", str(cache), "-o", str(models),
             "--folds", str(tmp_path / "folds.csv"), "--c", "1"]
    assert main(train) == 0, capsys.readouterr().err
    assert "heads fitted on 4 real and 4 fake voices and 1 acoustic and 1 codec copies of each" in \
        capsys.readouterr().out  # the dub: not fake
    assert len(encode_rows(rows[:2], cache, models / "encodings.npz").features) == 9  # kept: nothing encoded again
    old = tmp_path / "old.npz"  # a store of other features (the speaker embedding of 2026-12-06 morning)
    np.savez(old, paths=np.array([str(rows[0].path)]), features=np.array("embedding"), encodings=np.zeros((1, 256)))
    assert [v.shape for v in encode_rows(rows[:1], cache, old).features.values()] == [(voice_embed.N_FEATURES,)]
    for k in range(4):
        head = voice_embed.load_head(models / f"fold{k}" / voice_embed.CHECKPOINT)
        assert head.meta["n_real"] == 9 and head.meta["n_fake"] == 9  # its fold's two voices and their copies out
    metrics = json.loads((models / "metrics.json").read_text())
    assert metrics["n_real"] == 4 and metrics["folds"]["2"]["n_held_out"] == 2
    assert metrics["acoustic_copies"] == 1 and metrics["codec_copies"] == 1
    stored = np.load(models / "encodings.npz")
    for name in ("acoustic_copies.npz", "codec_copies.npz"):
        copies = np.load(models / name)
        assert copies["encodings"].shape == (8, 1, voice_embed.N_FEATURES)
        as_is = dict(zip(stored["paths"].tolist(), stored["encodings"]))[str(copies["paths"][0])]
        assert not np.allclose(copies["encodings"][0, 0], as_is, atol=1e-3)  # a copy is not the voice as it is
    head_all = (models / voice_embed.CHECKPOINT).read_text()
    assert main(train) == 0 and (models / voice_embed.CHECKPOINT).read_text() == head_all  # same draws, same head
    assert main([*train, "--acoustic-copies", "0"]) == 0
    assert voice_embed.load_head(models / "fold0" / voice_embed.CHECKPOINT).meta["n_real"] == 6
    assert main([*train, "--acoustic-copies", "0", "--codec-copies", "0"]) == 0
    assert voice_embed.load_head(models / "fold0" / voice_embed.CHECKPOINT).meta["n_real"] == 3
    assert main(["video-features", str(tmp_path / "m.csv"), "--cache", str(cache), "-o", str(tmp_path / "f"),
                 "--extractors", "voice_embed", "--models", str(models), "--folds", str(tmp_path / "folds.csv")]) == 0
    with (tmp_path / "f" / "voice_embed.csv").open(newline="") as f:
        measured = {r["path"]: float(r["voice_embed_logit"]) for r in csv.DictReader(f)}
    stored = np.load(models / "encodings.npz")
    features = dict(zip(stored["paths"].tolist(), stored["encodings"]))[str(rows[5].path)]
    fold2 = voice_embed.load_head(models / "fold2" / voice_embed.CHECKPOINT)
    assert measured[str(rows[5].path)] == pytest.approx(fold2.logit(features), abs=1e-3)  # row 5 is in fold 2
    # --block writes the same file from the voices it encoded, byte for byte (a silent row NaN, a row in no fold out)
    save_perception(cache / "silent.npz", audio_perception(np.zeros(SAMPLE_RATE * 2, np.float32), SAMPLE_RATE))
    silent, stray = ManifestRow(path=tmp_path / "s.wav", label="REAL", group="g0"), ManifestRow(
        path=tmp_path / "x.wav", label="REAL", group="gx")
    with (cache / "index.csv").open("a") as f:
        f.write(f"{silent.path},silent,ok,0,0,1,1.0\n{stray.path},silent,ok,0,0,1,1.0\n")
    write_manifest([*rows, dub, silent, stray], tmp_path / "m2.csv")
    write_folds([*rows, dub, silent], np.array([i // 2 for i in range(8)] + [0, 1]), tmp_path / "folds2.csv")
    assert main(["train-voice-embed", str(tmp_path / "m2.csv"), "--cache", str(cache), "-o", str(models), "--folds",
                 str(tmp_path / "folds2.csv"), "--c", "1", "--block", str(tmp_path / "b")]) == 0
    assert "voice_embed.csv: 10 of 11 rows" in capsys.readouterr().out
    voice_embed.cached_head.cache_clear()  # the heads were fitted again under the same names in this process
    assert main(["video-features", str(tmp_path / "m2.csv"), "--cache", str(cache), "-o", str(tmp_path / "f2"),
                 "--extractors", "voice_embed", "--models", str(models), "--folds", str(tmp_path / "folds2.csv")]) == 0
    expected = (tmp_path / "f2" / "voice_embed.csv").read_text()
    assert (tmp_path / "b" / "voice_embed.csv").read_text() == expected and "s.wav,nan,nan,nan" in expected
    # without --folds every row by the head fitted on all of them, as `video-features --models MODELS`
    assert main(["train-voice-embed", str(tmp_path / "m2.csv"), "--cache", str(cache), "-o", str(models), "--c", "1",
                 "--block", str(tmp_path / "b_all")]) == 0
    voice_embed.cached_head.cache_clear()
    assert main(["video-features", str(tmp_path / "m2.csv"), "--cache", str(cache), "-o", str(tmp_path / "f_all"),
                 "--extractors", "voice_embed", "--models", str(models)]) == 0
    assert "voice_embed.csv: 11 of 11 rows" in capsys.readouterr().out
    assert (tmp_path / "b_all" / "voice_embed.csv").read_text() == (tmp_path / "f_all" / "voice_embed.csv").read_text()
