"""The `voice_embed` block: a speaker encoder's embedding of the speech, scored by a linear head.

A speaker encoder learnt from thousands of real voices maps a recording to the place its voice takes among
real voices. Synthetic speech lands elsewhere: its timbre is averaged, too steady or shaped by the vocoder
in ways that the encoder's 40 mel bands see even through codecs. The encoder is Resemblyzer's GE2E model
(Wan et al. 2018; ``resemblyzer==0.1.4``, its weights inside the wheel, Apache-2.0), run on the detected
speech at a fixed loudness; the embedding (256 numbers) is too wide for the stacker's trees, so a
standardised logistic regression (`EmbedHead`, fitted by `avdetect.training.voice_embed`, one per fold for
the stacker's table) turns it into one logit. The block also reports how alike the embeddings of its
1.6 s partial windows are (a cloned voice may wander, a vocoder's may be too steady).

The head is read from a models folder (`voice_embed/head.json`; by default the package's model), like the
learnt sync block's weights.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from avdetect.errors import ModelFileError
from avdetect.features.speech_span import speech_excerpt
from avdetect.records import Perception

SAMPLE_RATE = 16_000  # the encoder's
MAX_SPEECH_S = 10.0  # seconds of speech embedded at most (the middle of the detected span)
TARGET_DBFS = -30.0  # loudness the speech is brought to first (Resemblyzer's own preprocessing level)
PARTIAL_RATE = 1.3  # partial windows a second; each covers 1.6 s
CHECKPOINT = "voice_embed/head.json"  # inside a models folder (a bundle)
NAMES = ("voice_embed_logit", "voice_embed_consistency_mean", "voice_embed_consistency_min")


@functools.lru_cache(maxsize=1)
def encoder() -> Any:
    """Resemblyzer's GE2E voice encoder on the CPU, loaded once per process."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


def embed(audio: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The utterance embedding float32 (256,) of speech ``audio`` float32 (N,) and those of its partial
    windows float32 (P, 256), all L2-normalised.

    Raises:
        ValueError: ``sample_rate`` is not the encoder's 16 kHz.
    """
    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"the voice encoder reads {SAMPLE_RATE} Hz audio, got {sample_rate}")
    audio = np.asarray(audio, np.float32)
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    scaled = audio * np.float32(10 ** (TARGET_DBFS / 20) / max(rms, 1e-6))
    embedding, partials, _ = encoder().embed_utterance(scaled, return_partials=True, rate=PARTIAL_RATE)
    return embedding.astype(np.float32), partials.astype(np.float32)


@dataclass(frozen=True)
class EmbedHead:
    """Standardisation and logistic regression over the embedding: logit = coef . (x - mean) / scale + bias."""

    mean: np.ndarray  # float64 (D,)
    scale: np.ndarray  # float64 (D,)
    coef: np.ndarray  # float64 (D,)
    intercept: float
    meta: dict  # how it was fitted: rows per class, C, ...

    def logit(self, embedding: np.ndarray) -> float:
        return float(((embedding - self.mean) / self.scale) @ self.coef + self.intercept)

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept, "meta": self.meta}
        path.write_text(json.dumps(data) + "\n", encoding="utf-8")
        return path


def load_head(path: str | os.PathLike) -> EmbedHead:
    """The head saved at ``path``.

    Raises:
        ModelFileError: the file is missing, not JSON, or its arrays disagree in length.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        head = EmbedHead(np.asarray(data["mean"], np.float64), np.asarray(data["scale"], np.float64),
                         np.asarray(data["coef"], np.float64), float(data["intercept"]), dict(data.get("meta", {})))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelFileError(f"{path}: not a voice_embed head ({err})") from err
    if not len(head.mean) == len(head.scale) == len(head.coef) or not np.all(head.scale > 0):
        raise ModelFileError(f"{path}: a voice_embed head's mean, scale and coef disagree")
    return head


@functools.lru_cache(maxsize=8)
def cached_head(path: str) -> EmbedHead:
    return load_head(path)


def shipped_checkpoint() -> Path:
    """The head shipped in the package: avdetect/model/voice_embed/head.json."""
    return Path(__file__).resolve().parents[1] / "model" / CHECKPOINT


def speech_embedding(perception: Perception) -> tuple[np.ndarray, np.ndarray] | None:
    """`embed` of the perception's detected speech (at most `MAX_SPEECH_S`); None without audio or speech."""
    excerpt = speech_excerpt(perception, MAX_SPEECH_S)
    return None if excerpt is None else embed(excerpt, perception.clip.sample_rate)


def block_row(embedding: np.ndarray, partials: np.ndarray, head: EmbedHead) -> np.ndarray:
    """float64 (len(NAMES),): the head's logit, mean and least cosine of the partials to the utterance."""
    cosines = partials @ embedding
    return np.array([head.logit(embedding), float(cosines.mean()), float(cosines.min())], dtype=np.float64)


def compute(perception: Perception, *, checkpoint: str | os.PathLike | None = None) -> np.ndarray:
    """The `voice_embed` row of a perception; all NaN without audio or detected speech.

    Raises:
        ModelFileError: the head is missing or corrupt (read only when there is speech to score).
    """
    found = speech_embedding(perception)
    if found is None:
        return np.full(len(NAMES), np.nan)
    return block_row(*found, cached_head(str(checkpoint or shipped_checkpoint())))
