"""The synthetic-speech recipe: a manifest's real speech in, labelled fakes and codec-passed reals out.

Every real speech file (label REAL, an audio file) gets up to `per_source` fakes from different engines:

* a vocoder copies the real utterance (same words, speaker and timing) and its output keeps the
  source's ``group`` and ``actor``, so folds keep a real file and its copies together;
* a TTS engine speaks one or two sentences of `texts.SENTENCES` with a drawn voice, rate and noise; its
  output is its own group and its actor the voice (e.g. ``flite-slt``).

Holding a vocoder family out (``avdetect folds --hold-out family``) takes the real sources of its copies,
and every utterance of their speakers, into the same fold. So the speakers are dealt to one block per
vocoder family plus one block with none: a source gets copies of its block's family only and its other
fakes from TTS engines (round-robin, so each makes about as many as the others). Each family can then be
held out in a fold of its own with its share of the reals, and a share of the reals is free to balance
the folds; before this, one fold held two thirds of the real speech and the model scoring it had trained
on the rest.

A third of the fakes and half of the sources (copied as new REAL files, so a third of all reals) pass
through a lossy codec (`avdetect.pseudofakes.codecs`), so "was re-encoded" marks neither class
(ASVspoof 2021 LA/DF). Everything random is drawn before anything runs, from the seed and each source's
name, so a rerun makes the same files and skips those that exist (the recipe is resumable).
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avdetect.corpus.datasets.common import AUDIO_EXTENSIONS, connected_components
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, check_unique_paths, source_name
from avdetect.corpus.synth.base import SAMPLE_RATE, TTS, Engine, fit_length, match_rms, resample, scale_to_peak
from avdetect.corpus.synth.engines import get_engines
from avdetect.corpus.synth.outputs import SynthRow, settings_text, write_flac
from avdetect.corpus.synth.texts import SENTENCES
from avdetect.errors import AvdetectError, EngineMissingError

logger = logging.getLogger(__name__)

DEFAULT_ENGINES = ("griffinlim", "world", "world-vc", "hifigan", "piper-joe", "espeak", "festival-hts",
                   "festival-diphone", "flite", "flite-diphone")
DATASET = "synthetic-speech"
REAL_FOLDER = "real-codec"  # where the codec-passed copies of real files go


@dataclass(frozen=True)
class SynthConfig:
    """How many fakes of which kinds the recipe makes, and how."""

    engines: tuple[str, ...] = DEFAULT_ENGINES
    per_source: int = 2  # fakes per real source file, each from a different engine
    seed: int = 0
    codec_fraction: float = 1 / 3  # of the fakes passed through a codec
    real_codec_fraction: float = 0.5  # of the sources copied through a codec: a third of all reals
    codecs: tuple[str, ...] = ("mp3", "aac", "opus", "telephone", "amr")
    max_seconds: float = 6.0  # outputs are cut to this, as the shared speech data
    tts_peak: tuple[float, float] = (0.3, 0.95)  # range a TTS output's peak level is drawn from


@dataclass(frozen=True)
class Job:
    """One output file to make, with everything drawn for it."""

    output: Path  # the FLAC file to write
    source: ManifestRow  # the real file it derives from (TTS: only whose turn it was)
    engine: Engine | None  # None for a codec-passed copy of the real file
    params: dict = field(default_factory=dict)  # the engine's drawn settings (keyword arguments)
    text: str = ""  # TTS: the sentence
    codec: str = ""  # a name in CODECS, or "" for none
    peak: float = 0.0  # TTS: the peak level the output is scaled to


def speech_sources(rows: Sequence[ManifestRow]) -> list[ManifestRow]:
    """The rows of real speech files (label REAL, an audio file), sorted by `source_key`."""
    speech = [row for row in rows if row.label == REAL and row.path.suffix.lower() in AUDIO_EXTENSIONS]
    return sorted(speech, key=source_key)


def source_key(row: ManifestRow) -> str:
    """A source's name independent of where the data lies: ``<folder>/<file>``."""
    return source_name(row.path)


def _stem(row: ManifestRow) -> str:
    key = source_key(row)
    return f"{row.path.stem}-{zlib.crc32(key.encode()):08x}"


def _rng(config: SynthConfig, row: ManifestRow, *slot: int) -> np.random.Generator:
    """The draws of one output: from the seed, the source's name and the output's slot only."""
    return np.random.default_rng([config.seed, zlib.crc32(source_key(row).encode()), *slot])


def _draw_text(rng: np.random.Generator) -> str:
    """One sentence or two: two lines run to the 6 s cut as often as the real files do."""
    count = 1 if rng.random() < 0.5 else 2
    return " ".join(str(line) for line in rng.choice(SENTENCES, size=count, replace=False))


def _fake_job(row: ManifestRow, engine: Engine, slot: int, out_dir: Path, config: SynthConfig,
              codecs: Sequence[str]) -> Job:
    rng = _rng(config, row, 0, slot)
    params = dict(engine.draw(rng))
    text = _draw_text(rng) if engine.kind == TTS else ""
    codec = str(rng.choice(codecs)) if codecs and rng.random() < config.codec_fraction else ""
    peak = round(float(rng.uniform(*config.tts_peak)), 3)
    name = f"{_stem(row)}{'-' + codec if codec else ''}.flac"
    return Job(out_dir / engine.name / name, row, engine, params, text, codec, peak)


def _real_job(row: ManifestRow, out_dir: Path, config: SynthConfig, codecs: Sequence[str]) -> Job | None:
    rng = _rng(config, row, 1)
    if not codecs or rng.random() >= config.real_codec_fraction:
        return None
    codec = str(rng.choice(codecs))
    return Job(out_dir / REAL_FOLDER / f"{_stem(row)}-{codec}.flac", row, None, codec=codec)


def plan(sources: Sequence[ManifestRow], out_dir: Path, engines: Sequence[Engine], config: SynthConfig,
         codecs: Sequence[str]) -> list[Job]:
    """Every output of the recipe, drawn from the seed: the fakes, then the codec-passed reals."""
    shuffled = [sources[i] for i in np.random.default_rng(config.seed).permutation(len(sources))]
    n_families = len({engine.family for engine in engines if engine.kind != TTS})
    dealt = deal_engines(speaker_blocks(shuffled, n_families + 1), engines, config.per_source)
    fakes = [_fake_job(row, engine, k, out_dir, config, codecs)
             for row, chosen in zip(shuffled, dealt) for k, engine in enumerate(chosen)]
    reals = [_real_job(row, out_dir, config, codecs) for row in sources]
    return fakes + [job for job in reals if job is not None]


def speaker_blocks(rows: Sequence[ManifestRow], n_blocks: int) -> list[int]:
    """The block (0 .. n_blocks - 1) of each row: rows that share a group or an actor (one speaker's
    utterances) share a block, as folds keep them together; the largest speakers are dealt first, each to
    the block with the fewest rows (ties in the rows' order)."""
    links = [[f"group:{row.group}"] + ([f"actor:{row.actor}"] if row.actor else []) for row in rows]
    names = connected_components(links)
    comps = [names[link[0]] for link in links]
    size = Counter(comps)
    first = {comp: i for i, comp in reversed(list(enumerate(comps)))}
    counts, block_of = [0] * n_blocks, {}
    for comp in sorted(size, key=lambda c: (-size[c], first[c])):
        block_of[comp] = counts.index(min(counts))
        counts[block_of[comp]] += size[comp]
    return [block_of[comp] for comp in comps]


def deal_engines(blocks: Sequence[int], engines: Sequence[Engine], per_source: int) -> list[list[Engine]]:
    """The engines of each source, given its block (`speaker_blocks`).

    In block b < F of the F vocoder families a source gets one copy by family b's engines in turn; its
    other fakes (up to ``per_source`` in all) come from the TTS engines dealt round-robin, so no source
    gets one engine twice. Block F gets no copies.
    """
    families = sorted({engine.family for engine in engines if engine.kind != TTS})
    copiers = [[engine for engine in engines if engine.kind != TTS and engine.family == family]
               for family in families]
    speakers = [engine for engine in engines if engine.kind == TTS]
    dealt, turns, spoken = [], Counter(), 0
    for block in blocks:
        chosen = [copiers[block][turns[block] % len(copiers[block])]] if block < len(families) else []
        turns[block] += 1
        n_tts = min(per_source - len(chosen), len(speakers))
        dealt.append(chosen + [speakers[(spoken + k) % len(speakers)] for k in range(n_tts)])
        spoken += n_tts
    return dealt


def render(job: Job, *, max_seconds: float = 6.0) -> np.ndarray:
    """float32 (N,) 16 kHz audio of one job: the engine's output levelled, cut and codec-passed.

    Raises:
        AvdetectError: the source cannot be decoded or the engine failed on it.
    """
    from avdetect.perception.video import load_audio
    from avdetect.pseudofakes.codecs import codec_roundtrip

    real = fit_length(load_audio(job.source.path, SAMPLE_RATE), max_seconds) if _needs_source(job) else None
    if job.engine is None:
        audio = real
    elif job.engine.kind == TTS:
        made = job.engine.run(job.text, **job.params)
        audio = scale_to_peak(resample(made.audio, made.sample_rate, SAMPLE_RATE), job.peak)
    else:
        made = job.engine.run(real, **job.params)
        audio = match_rms(resample(made.audio, made.sample_rate, SAMPLE_RATE), real)
    audio = fit_length(audio, max_seconds)
    return codec_roundtrip(audio, job.codec, sample_rate=SAMPLE_RATE) if job.codec else audio


def _needs_source(job: Job) -> bool:
    return job.engine is None or job.engine.kind != TTS


def manifest_row(job: Job) -> SynthRow:
    """The manifest row of a job's output (labels, group, actor, generator), made without running it."""
    source, engine = job.source, job.engine
    if engine is None:
        row = ManifestRow(path=job.output, label=REAL, group=source.group, video_label=None, audio_label=REAL,
                          actor=source.actor, dataset=DATASET)
        return SynthRow(row, "", "", job.codec, "")
    tts = engine.kind == TTS
    group = f"{DATASET}:{engine.name}:{job.output.stem}" if tts else source.group
    actor = engine.voice(job.params) if tts and engine.voice else source.actor
    settings = {**job.params, "text": job.text} if tts else job.params
    row = ManifestRow(path=job.output, label=FAKE, group=group, video_label=None, audio_label=FAKE, actor=actor,
                      dataset=DATASET)
    return SynthRow(row, engine.name, engine.family, job.codec, settings_text(settings))


def available_engines(names: Sequence[str]) -> list[Engine]:
    """The engines called `names` that can run here; each missing one is logged as a warning and skipped.

    Raises:
        ValueError: an unknown engine name.
    """
    ready = []
    for engine in get_engines(names):
        try:
            engine.require()
            ready.append(engine)
        except EngineMissingError as err:
            logger.warning("skipping engine %s: %s", engine.name, err)
    return ready


def available_codecs(names: Sequence[str]) -> list[str]:
    """The codecs of `names` whose encoder this PyAV build has; a missing one is logged and skipped."""
    import av

    from avdetect.pseudofakes.codecs import CODECS

    ready = []
    for name in names:
        try:
            av.codec.Codec(CODECS[name].encoder, "w")
            ready.append(name)
        except (KeyError, av.codec.codec.UnknownCodecError):
            logger.warning("skipping codec %s: unknown name or encoder missing from this FFmpeg", name)
    return ready


Progress = Callable[[int, int, SynthRow | None], None]  # (jobs done, jobs in all, row made or None)


def synthesize(rows: Sequence[ManifestRow], out_dir: Path | str, config: SynthConfig = SynthConfig(), *,
               progress: Progress | None = None) -> list[SynthRow]:
    """Makes the corpus under `out_dir`: fakes of every real speech file in `rows` and codec-passed reals.

    Outputs that exist are kept, not remade. A job that fails is logged and left out of the result.

    Raises:
        ManifestError: two sources share a ``<folder>/<file>`` name, so their outputs would too.

    Returns:
        One row per output file that exists at the end, in plan order.
    """
    out_dir = Path(out_dir).absolute()
    jobs = plan(speech_sources(rows), out_dir, available_engines(config.engines), config,
                available_codecs(config.codecs))
    check_unique_paths([manifest_row(job).row for job in jobs], source=f"plan for {out_dir}")
    made = []
    for done, job in enumerate(jobs, start=1):
        item = _run_job(job, config)
        made += [item] if item else []
        if progress:
            progress(done, len(jobs), item)
    return made


def _run_job(job: Job, config: SynthConfig) -> SynthRow | None:
    if not job.output.is_file():
        try:
            write_flac(job.output, render(job, max_seconds=config.max_seconds), SAMPLE_RATE)
        except (AvdetectError, ValueError, RuntimeError, OSError) as err:
            name = job.engine.name if job.engine else REAL_FOLDER
            logger.warning("%s failed on %s: %s", name, job.source.path, err)
            return None
    return manifest_row(job)
