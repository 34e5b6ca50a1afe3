"""What every synthetic-speech engine shares: its record, its checks and the audio conversions at its edges.

An engine turns either real speech (a vocoder's copy-synthesis) or a sentence (text-to-speech) into a
`Synthesis`. Engines run external packages and programs that may be absent; they say so with
`avdetect.errors.EngineMissingError` before they run, so a recipe can skip them and go on with the others.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import gcd

import numpy as np
from scipy import signal

from avdetect.defaults import SAMPLE_RATE  # of every file the recipe writes, as the shared speech data
from avdetect.errors import EngineMissingError

VOCODER = "vocoder"  # the engine re-synthesises real speech: its output keeps the source's group and actor
TTS = "tts"  # the engine speaks a sentence: its output is its own group, its actor the voice


@dataclass(frozen=True)
class Synthesis:
    """Audio an engine made, at the engine's own rate."""

    audio: np.ndarray  # float32 (N,) mono, about [-1, 1]
    sample_rate: int  # Hz


# Drawn settings of one output, passed to the engine as keyword arguments: {"voice": "slt", "rate": 1.1}.
Params = Mapping[str, float | int | str]


@dataclass(frozen=True)
class Engine:
    """One generator of fake speech, named as its outputs are labelled.

    `run` takes float32 (N,) 16 kHz speech (vocoders) or a sentence (TTS), then the drawn settings as
    keyword arguments. `draw` draws those settings; the recipe draws them before it runs anything, so an
    output's settings never depend on which outputs exist already. `require` raises
    `EngineMissingError` when the engine cannot run here. `voice` names a TTS output's speaker from its
    settings (e.g. "flite-slt"); vocoder outputs keep their source's speaker.
    """

    name: str  # the `generator` label, e.g. "piper-joe"
    family: str  # the `family` label: generators of one kind, held out together, e.g. "vits"
    kind: str  # VOCODER or TTS
    run: Callable[..., Synthesis]
    draw: Callable[[np.random.Generator], Params]
    require: Callable[[], None]
    voice: Callable[[Params], str] | None = None  # TTS: the speaker an output is labelled with (its actor)


def require_program(name: str, install: str) -> Callable[[], None]:
    """A `require` check that the program `name` is on PATH; `install` is how to get it."""

    def check() -> None:
        if shutil.which(name) is None:
            raise EngineMissingError(f"program {name!r} not found; install it with `{install}`")

    return check


def require_module(name: str, install: str) -> Callable[[], None]:
    """A `require` check that the Python module `name` is importable, without importing it."""

    def check() -> None:
        if importlib.util.find_spec(name) is None:
            raise EngineMissingError(f"Python module {name!r} not found; install it with `{install}`")

    return check


def all_of(*checks: Callable[[], None]) -> Callable[[], None]:
    """A `require` check that runs every check in turn."""

    def check() -> None:
        for each in checks:
            each()

    return check


def resample(audio: np.ndarray, source_rate: int, target_rate: int) -> np.ndarray:
    """float32 `audio` at `target_rate` (polyphase filter: exact rational ratios such as 22050 -> 16000)."""
    audio = np.asarray(audio, np.float32)
    if source_rate == target_rate:
        return audio
    common = gcd(source_rate, target_rate)
    return signal.resample_poly(audio, target_rate // common, source_rate // common).astype(np.float32)


def fit_length(audio: np.ndarray, max_seconds: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """`audio` cut to at most `max_seconds`, with a 20 ms fade-out where it was cut (no click)."""
    limit = int(round(max_seconds * sample_rate))
    if len(audio) <= limit:
        return audio
    out = audio[:limit].copy()
    fade = min(limit, int(0.02 * sample_rate))
    out[limit - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def scale_to_peak(audio: np.ndarray, peak: float) -> np.ndarray:
    """`audio` scaled so that its largest magnitude is `peak`; silence stays silence."""
    top = float(np.max(np.abs(audio))) if len(audio) else 0.0
    return audio if top == 0.0 else (audio * (peak / top)).astype(np.float32)


def match_rms(audio: np.ndarray, reference: np.ndarray, *, ceiling: float = 0.99) -> np.ndarray:
    """`audio` at the RMS level of `reference` (a vocoder copy as loud as its source), peak <= `ceiling`."""
    own = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if len(audio) else 0.0
    target = float(np.sqrt(np.mean(reference.astype(np.float64) ** 2))) if len(reference) else 0.0
    if own == 0.0:
        return audio
    out = audio * (target / own)
    top = float(np.max(np.abs(out)))
    return (out * (ceiling / top) if top > ceiling else out).astype(np.float32)
