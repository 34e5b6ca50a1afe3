"""Fits the `voice_embed` block's linear heads on the speaker encoder's features of a manifest's voices.

    MODELS/voice_embed/head.json          the head fitted on every labelled voice (the one that ships)
    MODELS/fold<k>/voice_embed/head.json  with folds: fitted without fold k, so that `video-features
                                          --models MODELS --folds F` measures each video out of fold
    MODELS/encodings.npz                  the encoder's features (`FEATURES`) of every voice (a rerun encodes
                                          only the rows it lacks)
    MODELS/acoustic_copies.npz            features of each training voice through random rooms, equalisers
                                          and low-passes (`HeadConfig.acoustic_copies`; kept while the
                                          settings and rows are the same)
    MODELS/codec_copies.npz               features of each training voice through a random lossy codec
                                          (`HeadConfig.codec_copies`; kept alike)
    MODELS/metrics.json                   each fold's held-out AUC and the fitting settings

Rows count with their `audio_label`, dubs aside (their voice is a real one, another speaker's: a voice-only
head would learn noise from them, as the voice stacker would); the head weighs both classes alike. Its
training rows also come as acoustic copies, real and fake alike, so that recording conditions cannot stand
for the label (as `train audio --room-p --eq-p --lowpass-p` does for the CNN), and through the codec round
trips of `avdetect.pseudofakes.codecs`, so that a band-limited or coded voice is not read as real for the
spectral shape it lost; each head learns only from the copies of its own training rows, and the block
measures the voices as they are.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avdetect.corpus.cache import load_perception
from avdetect.corpus.cache_index import cached_paths
from avdetect.corpus.manifest import FAKE, REAL, ManifestRow
from avdetect.corpus.variants import foreign_voice
from avdetect.errors import AvdetectError
from avdetect.features.speech_span import speech_excerpt
from avdetect.features.voice_embed import (CHECKPOINT, FEATURES, MAX_SPEECH_S, SAMPLE_RATE, EmbedHead, encode,
                                           partial_consistency, speech_encoding)
from avdetect.training.audio_acoustics import AcousticsConfig, apply_acoustics, check_installed

log = logging.getLogger(__name__)

STORE = "encodings.npz"
COPIES = "acoustic_copies.npz"
CODEC_COPIES = "codec_copies.npz"


@dataclass(frozen=True)
class HeadConfig:
    """Attributes:
    c: inverse L2 strength of the logistic regression; strong (0.01) transferred best to held-out
        generators on the shared data (data/shipped/README.md).
    max_iter: the solver's iterations.
    acoustic_copies: degraded copies of each training voice added to the head's rows (0: none).
    acoustics: the room, equaliser and low-pass each copy goes through, each with its probability.
    codec_copies: copies of each training voice through a lossy codec drawn among
        `avdetect.pseudofakes.codecs.CODECS` (0: none); with the spectral shape in the head's input they
        lifted held-out generators and the telephone band's and AMR's fakes (data/shipped/README.md).
    seed: the copies' draws (the codecs' from seed + 1, so the acoustic copies stay as they were).
    """

    c: float = 0.01
    max_iter: int = 3000
    acoustic_copies: int = 1
    acoustics: AcousticsConfig = AcousticsConfig(room_p=0.5, eq_p=0.5, lowpass_p=0.5)
    codec_copies: int = 1
    seed: int = 0


@dataclass(frozen=True)
class StoredVoices:
    """What `encode_rows` keeps of a manifest's voices (MODELS/encodings.npz)."""

    features: dict[str, np.ndarray]  # path -> float32 (N_FEATURES,): what the head reads, rows with speech
    consistency: dict[str, np.ndarray]  # path -> float32 (2,): the block's mean and least cosine of the partials
    silent: frozenset[str]  # rows read from the cache and found without audio or speech


def encode_rows(rows: Sequence[ManifestRow], cache_dir: Path, store: Path,
                progress: Callable[[int], None] | None = None) -> StoredVoices:
    """The encoder's view of every cached row (`StoredVoices`: the features of the rows with speech, what else
    the `voice_embed` block reads of them, the rows without speech), also kept in ``store`` (`read_store`).

    Rows already in the store are not encoded again (a store of other features is started afresh); rows
    without a cache entry, audio or speech are left out (a cache file that cannot be read with a warning).
    """
    done = read_store(store)
    features, consistency, silent = dict(done.features), dict(done.consistency), set(done.silent)
    keys = cached_paths(cache_dir)
    for i, row in enumerate(rows):
        path, key = str(row.path), keys.get(str(row.path))
        if path not in features and path not in silent and key is not None:
            try:
                found = speech_encoding(load_perception(cache_dir / f"{key}.npz"))
            except AvdetectError as err:
                log.warning("%s: %s; left out", path, err)
            else:
                if found is None:
                    silent.add(path)
                else:
                    features[path], consistency[path] = found.features, partial_consistency(found)
        if progress:
            progress(i + 1)
    store.parent.mkdir(parents=True, exist_ok=True)
    np.savez(store, paths=np.array(list(features), dtype=str), features=np.array(FEATURES),
             encodings=np.stack(list(features.values())) if features else np.zeros((0, 0), np.float32),
             consistency=np.array([consistency[p] for p in features], np.float32).reshape(-1, 2),
             silent=np.array(sorted(silent), dtype=str))
    return StoredVoices(features, consistency, frozenset(silent))


def read_store(store: Path) -> StoredVoices:
    """The voices kept in ``store``; none when it is missing or holds other features (or a store made before
    it kept the partials' consistency)."""
    if not store.is_file():
        return StoredVoices({}, {}, frozenset())
    with np.load(store, allow_pickle=False) as data:
        if "features" not in data or str(data["features"]) != FEATURES or "consistency" not in data:
            return StoredVoices({}, {}, frozenset())
        paths = data["paths"].tolist()
        return StoredVoices(dict(zip(paths, data["encodings"])), dict(zip(paths, data["consistency"])),
                            frozenset(data["silent"].tolist()))


def training_rows(rows: Sequence[ManifestRow], encodings: Mapping[str, np.ndarray]) -> list[ManifestRow]:
    """The rows a head learns from: a voice label of their own and an encoding, dubs aside."""
    return [r for r in rows if r.audio_label in (REAL, FAKE) and str(r.path) in encodings
            and not foreign_voice(r.path)]


def acoustic_copies(rows: Sequence[ManifestRow], cache_dir: Path, store: Path,
                    config: HeadConfig) -> dict[str, np.ndarray]:
    """path -> float32 (config.acoustic_copies, N_FEATURES) encodings of the row's speech through random rooms,
    equalisers and low-passes, drawn in the order of `rows` from `config.seed`, kept in ``store`` and reused
    while the rows and settings are the same (the draws depend on both).

    Raises:
        EngineMissingError: audiomentations is not installed.
    """
    if config.acoustic_copies <= 0:
        return {}
    stamp = json.dumps({"paths": [str(r.path) for r in rows], "copies": config.acoustic_copies, "features": FEATURES,
                        "acoustics": dataclasses.asdict(config.acoustics), "seed": config.seed}, sort_keys=True)

    def make() -> dict[str, np.ndarray]:
        check_installed(config.acoustics)
        return {str(row.path): np.stack([encode(audio, SAMPLE_RATE).features for audio in copied])
                for row, _, copied in copy_draws(rows, cache_dir, config)}

    return stored_copies(store, stamp, make)


def codec_copies(rows: Sequence[ManifestRow], cache_dir: Path, store: Path,
                 config: HeadConfig) -> dict[str, np.ndarray]:
    """path -> float32 (config.codec_copies, N_FEATURES) encodings of the row's speech through lossy codecs
    drawn at random from `config.seed` + 1, in the order of `rows`, kept in ``store`` and reused while the rows
    and settings are the same."""
    from avdetect.pseudofakes.codecs import CODECS, codec_roundtrip

    if config.codec_copies <= 0:
        return {}
    stamp = json.dumps({"paths": [str(r.path) for r in rows], "codec_copies": config.codec_copies,
                        "features": FEATURES, "codecs": sorted(CODECS), "seed": config.seed}, sort_keys=True)

    def make() -> dict[str, np.ndarray]:
        rng, names = np.random.default_rng(config.seed + 1), sorted(CODECS)
        speech_only = dataclasses.replace(config, acoustic_copies=0)
        return {str(row.path): np.stack([encode(codec_roundtrip(speech, names[rng.integers(len(names))],
                                                                sample_rate=SAMPLE_RATE), SAMPLE_RATE).features
                                         for _ in range(config.codec_copies)])
                for row, speech, _ in copy_draws(rows, cache_dir, speech_only)}

    return stored_copies(store, stamp, make)


def stored_copies(store: Path, stamp: str, make: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """path -> (k, D) copies' encodings: those kept in ``store`` when it was made under the same ``stamp``
    (the rows and settings its draws depend on), otherwise ``make()``'s, then kept there."""
    if store.is_file():
        with np.load(store, allow_pickle=False) as data:
            if str(data["stamp"]) == stamp:
                return dict(zip(data["paths"].tolist(), data["encodings"]))
    done = make()
    store.parent.mkdir(parents=True, exist_ok=True)
    np.savez(store, paths=np.array(list(done), dtype=str), stamp=np.array(stamp),
             encodings=np.stack(list(done.values())) if done else np.zeros((0, 0, 0), np.float32))
    return done


def joined_copies(*copy_sets: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """path -> (k, D) every copy of the path in ``copy_sets`` (each path -> (k_i, D)), in their order."""
    sets = [c for c in copy_sets if c]
    return {path: np.concatenate([c[path] for c in sets]) for path in sets[0]} if sets else {}


def copy_draws(rows: Sequence[ManifestRow], cache_dir: Path,
               config: HeadConfig) -> Iterator[tuple[ManifestRow, np.ndarray, list[np.ndarray]]]:
    """(row, its speech as it is, its `config.acoustic_copies` degraded copies) for each of ``rows`` in
    order, every copy drawn from one generator seeded with `config.seed`: the draws of `acoustic_copies`
    (and of `benchmarks/voice_embed_inputs.py`, which must draw the same)."""
    keys, rng = cached_paths(cache_dir), np.random.default_rng(config.seed)
    for row in rows:
        speech = speech_excerpt(load_perception(cache_dir / f"{keys[str(row.path)]}.npz"), MAX_SPEECH_S)
        yield row, speech, [apply_acoustics(speech, rng, config.acoustics, sample_rate=SAMPLE_RATE)
                            for _ in range(config.acoustic_copies)]


def fit_head(x: np.ndarray, y: np.ndarray, config: HeadConfig = HeadConfig()) -> EmbedHead:
    """The head fitted on encodings ``x`` float (n, D) and labels ``y`` (1 fake, 0 real).

    Raises:
        ValueError: only one class among the rows.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y)) != 2:
        raise ValueError(f"a voice_embed head needs real and fake voices; got {len(y)} rows of one class")
    scaler = StandardScaler().fit(x)
    model = LogisticRegression(C=config.c, class_weight="balanced", max_iter=config.max_iter)
    model.fit(scaler.transform(x), y)
    meta = {"c": config.c, "n_real": int(np.sum(y == 0)), "n_fake": int(np.sum(y == 1)), "encoder": "resemblyzer",
            "features": FEATURES}
    return EmbedHead(scaler.mean_, scaler.scale_, model.coef_[0].astype(np.float64), float(model.intercept_[0]),
                     meta)


def write_heads(rows: Sequence[ManifestRow], encodings: Mapping[str, np.ndarray], out: Path, *,
                fold_of: Mapping[str, int] | None = None, config: HeadConfig = HeadConfig(),
                copies: Mapping[str, np.ndarray] | None = None) -> dict:
    """Fits and saves the head on every labelled voice (and its acoustic ``copies``, path -> (k, D)) and,
    with ``fold_of``, one without each fold; returns the metrics written to OUT/metrics.json (per fold: rows
    and held-out AUC, measured on the voices as they are)."""
    from stacking.metrics import auc

    labelled = training_rows(rows, encodings)
    x = np.stack([encodings[str(r.path)] for r in labelled]).astype(np.float64)
    y = np.array([r.audio_label == FAKE for r in labelled], dtype=np.int64)

    # (n, k, D): each voice's k acoustic copies, k = 0 without them
    xc = (np.stack([copies[str(r.path)] for r in labelled]).astype(np.float64) if copies
          else np.zeros((len(y), 0, x.shape[1])))

    def fit(keep: np.ndarray) -> EmbedHead:  # the kept voices, then their copies, voice after voice
        copied = xc[keep].reshape(-1, x.shape[1])
        return fit_head(np.concatenate([x[keep], copied]), np.concatenate([y[keep], np.repeat(y[keep], xc.shape[1])]),
                        config)

    fit(np.ones(len(y), bool)).save(out / CHECKPOINT)
    metrics: dict = {"c": config.c, "n_real": int(np.sum(y == 0)), "n_fake": int(np.sum(y == 1)),
                     "acoustic_copies": config.acoustic_copies if copies else 0,
                     "codec_copies": config.codec_copies if copies else 0, "folds": {}}
    if fold_of is not None:
        folds = np.array([fold_of.get(str(r.path), -1) for r in labelled])
        for k in sorted(set(fold_of.values())):
            head = fit(folds != k)
            head.save(out / f"fold{k}" / CHECKPOINT)
            held = folds == k
            logits = head.logits(x[held])
            metrics["folds"][str(k)] = {"n_held_out": int(held.sum()), "auc": auc(y[held], logits)}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    return metrics
