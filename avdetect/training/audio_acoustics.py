"""The room, microphone and bandwidth a training voice was recorded through, drawn at random.

Real speech corpora differ most in how they were recorded: a TED hall's reverberation, a webcam's
colouring, a telephone's band, a studio's dry full band. Text-to-speech and vocoder output is dry and full
band. A voice CNN left alone learns "reverberant or coloured = real" and then calls studio-read speech
fake (`benchmarks/corpus_check.py`). Passing every training copy, real or fake alike, through a random
room (image-source method), a random seven-band equaliser and a random low-pass takes those cues away
(RawBoost, Tak et al., ICASSP 2022, does the same with random convolutive filters).

The transforms are audiomentations' (pyroomacoustics computes the rooms). They draw from Python's and
numpy's global generators, so each call seeds both from our own generator and puts them back after: a bank
stays the same in any order and nothing else sees the draws.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from avdetect.errors import EngineMissingError

INSTALL = "pip install --no-deps audiomentations==0.43.1 (its other requirements come with avdetect)"
ROOM_MAX_ORDER = 10  # image-source reflections: enough for the reverberation's body, ~0.1 s a 3 s clip


@dataclass(frozen=True)
class AcousticsConfig:
    """Probabilities (each drawn apart) of the room, equaliser and low-pass a training copy goes through.

    Attributes:
        room_p: a simulated room (reverberation, a few metres from the microphone).
        eq_p: a seven-band parametric equaliser, each band -12..+12 dB.
        lowpass_p: a low-pass filter at `lowpass_hz` (uniform), as band-limited recordings have.
    """

    room_p: float = 0.0
    eq_p: float = 0.0
    lowpass_p: float = 0.0
    lowpass_hz: tuple[float, float] = (3500.0, 7500.0)

    def __post_init__(self) -> None:
        for name in ("room_p", "eq_p", "lowpass_p"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], not {getattr(self, name)}")

    @property
    def active(self) -> bool:
        return max(self.room_p, self.eq_p, self.lowpass_p) > 0


def check_installed(config: AcousticsConfig) -> None:
    """Raises EngineMissingError, with the install line, when `config` is active and audiomentations is not
    installed (`make install` adds it; a plain `pip install avdetect` does not): before any window is cut."""
    if not config.active:
        return
    try:
        importlib.import_module("audiomentations")
    except ImportError as err:
        raise EngineMissingError(f"random rooms, equalisers and low-passes need audiomentations ({err}): "
                                 f"{INSTALL}") from None


def apply_acoustics(y: np.ndarray, rng: np.random.Generator, config: AcousticsConfig, *,
                    sample_rate: int) -> np.ndarray:
    """float32 (N,) `y` through a random room, equaliser and low-pass, each with its probability; its level
    (RMS) kept, so loudness cannot stand for them."""
    if not config.active or len(y) == 0:
        return y
    out = y
    for p, make in ((config.room_p, _room), (config.eq_p, _equaliser), (config.lowpass_p, _lowpass)):
        if rng.random() < p:
            with seeded_globals(int(rng.integers(2**31))):
                out = make(config)(samples=out, sample_rate=sample_rate).astype(np.float32)
    return _match_rms(out, y)


def _room(config: AcousticsConfig) -> Callable[..., np.ndarray]:
    from audiomentations import RoomSimulator

    # image sources only: pyroomacoustics' ray tracer draws from a generator of its own, so its rooms would
    # not repeat; the walls' absorption is set for the drawn reverberation time
    return RoomSimulator(p=1.0, leave_length_unchanged=True, calculation_mode="rt60", min_target_rt60=0.15,
                         max_target_rt60=0.8, use_ray_tracing=False, max_order=ROOM_MAX_ORDER)


def _equaliser(config: AcousticsConfig) -> Callable[..., np.ndarray]:
    from audiomentations import SevenBandParametricEQ

    return SevenBandParametricEQ(min_gain_db=-12.0, max_gain_db=12.0, p=1.0)


def _lowpass(config: AcousticsConfig) -> Callable[..., np.ndarray]:
    from audiomentations import LowPassFilter

    low, high = config.lowpass_hz
    return LowPassFilter(min_cutoff_freq=low, max_cutoff_freq=high, p=1.0)


@contextmanager
def seeded_globals(seed: int) -> Iterator[None]:
    """Python's and numpy's global generators seeded with `seed` inside, restored after."""
    py_state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _match_rms(y: np.ndarray, like: np.ndarray) -> np.ndarray:
    """`y` scaled to `like`'s RMS, clipped to [-1, 1]; unchanged when either is silent."""
    now, want = (float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) for x in (y, like))
    if now < 1e-9 or want < 1e-9:
        return y.astype(np.float32)
    return np.clip(y * (want / now), -1.0, 1.0).astype(np.float32)
