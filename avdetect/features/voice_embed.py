"""The `voice_embed` block: a speaker encoder's view of the speech, scored by a linear head.

A speaker encoder learnt from thousands of real voices maps a recording to the place its voice takes among
real voices. Synthetic speech lands elsewhere: its timbre is averaged, too steady or shaped by the vocoder
in ways that the encoder's 40 mel bands see even through codecs. The encoder is Resemblyzer's GE2E model
(Wan et al. 2018; ``resemblyzer==0.1.4``, its weights inside the wheel, Apache-2.0), run on the detected
speech at a fixed loudness. The head does not read the speaker embedding itself, which GE2E trained to
keep the speaker and drop the rest, but what its last two LSTM layers carry on the way there: each layer's
outputs averaged and spread over time and its final state, averaged over the 1.6 s partial windows (on
held-out generators of the shared data a head on them ranked voices better than one on the embedding), and
beside them the speech's long-term spectrum on a linear frequency scale (`spectral_shape`: a vocoder's marks
are narrow, the mel bands blur them; with it the head ranked held-out generators better again,
data/shipped/README.md). That is `N_FEATURES` numbers, too wide for the stacker's trees, so a standardised
logistic regression (`EmbedHead`, fitted by `avdetect.training.voice_embed`, one per fold for the
stacker's table) turns it into one logit. The block also reports how alike the speaker embeddings of the
partial windows are (a cloned voice may wander, a vocoder's may be too steady).

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
FIRST_LAYER = 1  # the head reads the LSTM layers from this one (0-based) to the last
FEATURES = "ge2e-lstm2-3+spectrum"  # the head's input, named in its file: a head made for another is refused
LAYER_FEATURES = 3 * 256  # a layer's: mean and spread of its outputs over time, its final state
SPECTRUM_FFT, SPECTRUM_HOP = 512, 160  # the spectral shape's STFT at 16 kHz: 31.25 Hz bins, 10 ms hops
SPECTRUM_FEATURES = 2 * (SPECTRUM_FFT // 2 + 1)  # each bin's mean log power (less their mean) and its spread
N_FEATURES = (3 - FIRST_LAYER) * LAYER_FEATURES + SPECTRUM_FEATURES  # the LSTM layers the head reads, then the shape
CHECKPOINT = "voice_embed/head.json"  # inside a models folder (a bundle)
NAMES = ("voice_embed_logit", "voice_embed_consistency_mean", "voice_embed_consistency_min")


@functools.lru_cache(maxsize=1)
def encoder() -> Any:
    """Resemblyzer's GE2E voice encoder on the CPU, loaded once per process."""
    from resemblyzer import VoiceEncoder

    return VoiceEncoder("cpu", verbose=False)


@functools.lru_cache(maxsize=1)
def _layers() -> tuple[Any, ...]:
    """The encoder's 3-layer LSTM as three one-layer LSTMs with its weights, so each layer's outputs show."""
    import torch

    lstm = encoder().lstm
    layers = []
    for k in range(lstm.num_layers):
        layer = torch.nn.LSTM(lstm.input_size if k == 0 else lstm.hidden_size, lstm.hidden_size, 1, batch_first=True)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(layer, f"{name}_l0").data.copy_(getattr(lstm, f"{name}_l{k}").data)
        layers.append(layer.eval())
    return tuple(layers)


@dataclass(frozen=True)
class VoiceEncoding:
    """What the encoder makes of one stretch of speech."""

    features: np.ndarray  # float32 (N_FEATURES,): what the head reads (`FEATURES`): the layers, the spectral shape
    embedding: np.ndarray  # float32 (256,): the speaker embedding, L2-normalised
    partials: np.ndarray  # float32 (P, 256): the embeddings of the 1.6 s partial windows, L2-normalised


def _partial_mels(audio: np.ndarray) -> np.ndarray:
    """float32 (P, 160, 40): the 1.6 s partial windows' mel frames, cut as Resemblyzer's embed_utterance does."""
    from resemblyzer.audio import wav_to_mel_spectrogram

    wav_slices, mel_slices = encoder().compute_partial_slices(len(audio), PARTIAL_RATE, 0.75)
    audio = np.pad(audio, (0, max(0, wav_slices[-1].stop - len(audio))))
    mel = wav_to_mel_spectrogram(audio)
    return np.array([mel[s] for s in mel_slices], dtype=np.float32)


def encode(audio: np.ndarray, sample_rate: int, *, first_layer: int = FIRST_LAYER) -> VoiceEncoding:
    """The encoder on speech ``audio`` float32 (N,), brought to `TARGET_DBFS` first; its features are those
    of the LSTM layers from ``first_layer`` (0-based) on, `LAYER_FEATURES` a layer (the head reads `FIRST_LAYER`'s;
    `benchmarks/voice_embed_inputs.py` compares the others), then the speech's `spectral_shape`.

    Raises:
        ValueError: ``sample_rate`` is not the encoder's 16 kHz.
    """
    import torch

    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"the voice encoder reads {SAMPLE_RATE} Hz audio, got {sample_rate}")
    audio = np.asarray(audio, np.float32)
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    audio = audio * np.float32(10 ** (TARGET_DBFS / 20) / max(rms, 1e-6))
    x = torch.from_numpy(_partial_mels(audio))
    stats = []
    with torch.no_grad():
        for k, layer in enumerate(_layers()):
            x, (hidden, _) = layer(x)
            if k >= first_layer:
                stats += [x.mean(dim=(0, 1)), x.std(dim=1).mean(dim=0), hidden[0].mean(dim=0)]
        model = encoder()
        partials = torch.nn.functional.normalize(model.relu(model.linear(hidden[0])), dim=1)
    embedding = torch.nn.functional.normalize(partials.mean(dim=0), dim=0)
    features = np.concatenate([torch.cat(stats).numpy(), spectral_shape(audio)]).astype(np.float32)
    return VoiceEncoding(features, embedding.numpy().astype(np.float32), partials.numpy().astype(np.float32))


def spectral_shape(audio: np.ndarray) -> np.ndarray:
    """float32 (`SPECTRUM_FEATURES`,): the long-term spectrum of 16 kHz speech ``audio`` on a linear frequency
    scale, as each 31 Hz bin's mean log power less the mean over bins (the shape, not the level), then the
    spread of each bin's log power over the 10 ms frames; the same at any level.

    A vocoder or a text-to-speech model leaves narrow marks at fixed frequencies and a steadier high band than
    a voice through a microphone; the encoder's 40 mel bands blur both (WaveFake, Frank and Schönherr 2021).
    On held-out generator families the head reading this beside the LSTM layers ranked voices better than
    either alone (data/shipped/README.md).
    """
    from scipy.signal import stft

    audio = np.asarray(audio, np.float64)
    audio = np.pad(audio, (0, max(0, SPECTRUM_FFT - len(audio))))  # scipy would shorten the window instead
    _, _, spec = stft(audio, fs=SAMPLE_RATE, nperseg=SPECTRUM_FFT, noverlap=SPECTRUM_FFT - SPECTRUM_HOP)
    power = np.abs(spec) ** 2
    log_power = np.log(power + 1e-8 * power.mean() + 1e-30)  # a floor 80 dB under the mean: level-free
    mean = log_power.mean(axis=1)
    return np.concatenate([mean - mean.mean(), log_power.std(axis=1)]).astype(np.float32)


@dataclass(frozen=True)
class EmbedHead:
    """Standardisation and logistic regression over features x: logit = coef . (x - mean) / scale + bias."""

    mean: np.ndarray  # float64 (D,)
    scale: np.ndarray  # float64 (D,)
    coef: np.ndarray  # float64 (D,)
    intercept: float
    meta: dict  # how it was fitted: rows per class, C, ...

    def logit(self, features: np.ndarray) -> float:
        """The logit of one voice's features (D,)."""
        return float(self.logits(features))

    def logits(self, features: np.ndarray) -> np.ndarray:
        """float64 (n,) logits of rows of features (n, D); a single (D,) row gives a 0-d array."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

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


def speech_encoding(perception: Perception) -> VoiceEncoding | None:
    """`encode` of the perception's detected speech (at most `MAX_SPEECH_S`); None without audio or speech."""
    excerpt = speech_excerpt(perception, MAX_SPEECH_S)
    return None if excerpt is None else encode(excerpt, perception.clip.sample_rate)


def block_row(encoding: VoiceEncoding, head: EmbedHead) -> np.ndarray:
    """float64 (len(NAMES),): the head's logit, mean and least cosine of the partials to the utterance.

    Raises:
        ModelFileError: the head reads another number of features than the encoding has (a head fitted on
            another input, e.g. the speaker embedding of models before 2026-12-06).
    """
    if len(head.coef) != len(encoding.features):
        made_for = head.meta.get("features", "the speaker embedding")
        raise ModelFileError(f"the voice_embed head reads {len(head.coef)} features ({made_for}), the encoder gives "
                             f"{len(encoding.features)} ({FEATURES}): fit it again with `avdetect train-voice-embed`")
    return np.array([head.logit(encoding.features), *partial_consistency(encoding)], dtype=np.float64)


def partial_consistency(encoding: VoiceEncoding) -> np.ndarray:
    """float32 (2,): the mean and least cosine of the partial windows' embeddings to the utterance's."""
    cosines = encoding.partials @ encoding.embedding
    return np.array([cosines.mean(), cosines.min()], np.float32)


def compute(perception: Perception, *, checkpoint: str | os.PathLike | None = None) -> np.ndarray:
    """The `voice_embed` row of a perception; all NaN without audio or detected speech.

    Raises:
        ModelFileError: the head is missing, corrupt or made for another input (read only when there is
            speech to score).
    """
    found = speech_encoding(perception)
    if found is None:
        return np.full(len(NAMES), np.nan)
    return block_row(found, cached_head(str(checkpoint or shipped_checkpoint())))
