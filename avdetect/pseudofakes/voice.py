"""Pseudo-fake voices made from real speech: vocoder re-synthesis, pitch and formant shifts, splices.

Re-synthesising real speech with a vocoder leaves the vocoder's traces on otherwise real content, the
cue synthetic-speech detectors key on (WaveFake, Frank & Schoenherr, NeurIPS 2021; "vocoded spoofing",
Wang et al., ICASSP 2023). Splicing re-synthesised stretches into the real utterance gives partial
fakes with segment labels (PartialSpoof, Zhang et al., 2021).

Every function takes float32 (N,) mono audio in [-1, 1], 16 kHz unless `sample_rate` says otherwise.
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
import torch
import torchaudio

from avdetect.defaults import SAMPLE_RATE
from avdetect.pseudofakes._spans import draw_spans, paste_spans, spans_to_seconds
from avdetect.pseudofakes.upsampling import upsampling_artefacts

FADE_S = 0.01  # cross-fade at each end of a spliced segment: no click to give the splice away


def _check_audio(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.floating):
        raise ValueError(f"audio must be float (N,) mono, got {y.dtype} {y.shape}")
    return y.astype(np.float32, copy=False)


def griffin_lim(
    y: np.ndarray,
    *,
    sample_rate: int = SAMPLE_RATE,
    n_fft: int = 1024,
    hop_length: int = 256,
    n_mels: int = 80,
    n_iter: int = 32,
) -> np.ndarray:
    """float32 (N,) `y` rebuilt from its mel spectrogram alone: Griffin-Lim phase, mel-smeared spectrum.

    The mel spectrogram is what TTS acoustic models predict; inverting it (Griffin & Lim, 1984) loses the
    phase and the fine spectral detail, as the cheapest vocoders do. The phase starts at zero, not at
    random, so the result is deterministic.
    """
    y = _check_audio(y)
    n_stft = n_fft // 2 + 1
    mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels)
    inverse = torchaudio.transforms.InverseMelScale(n_stft, n_mels=n_mels, sample_rate=sample_rate)
    vocoder = torchaudio.transforms.GriffinLim(n_fft, n_iter=n_iter, hop_length=hop_length, rand_init=False, length=len(y))
    with torch.no_grad():
        out = vocoder(inverse(mel(torch.from_numpy(y))))
    return out.numpy().astype(np.float32)


def phase_resynth(y: np.ndarray, rng: np.random.Generator, *, n_fft: int = 1024, hop_length: int = 256,
                  sigma: tuple[float, float] = (0.3, 1.2), n_iter: tuple[int, int] = (2, 8)) -> np.ndarray:
    """float32 (N,) `y` with its STFT magnitudes kept and its phase perturbed, then made consistent.

    A trained neural vocoder is fitted to reproduce the (mel) magnitudes, so its copy of a voice stays
    within a dB of the original in every band; its traces lie in what that loss leaves free, the phase
    and the fine texture it shapes. Here the phase gets Gaussian noise (std drawn from `sigma`, radians)
    and a few Griffin-Lim iterations pull it towards a consistent signal with the original magnitudes:
    the log-mel statistics move by about half a dB, as MelGAN's do, unlike `griffin_lim` from scratch.
    """
    x = torch.from_numpy(_check_audio(y).copy())
    if len(x) < n_fft:
        return x.numpy()
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop_length, window=window, return_complex=True)
    noise = torch.from_numpy(rng.normal(0.0, rng.uniform(*sigma), tuple(spec.shape)).astype(np.float32))
    estimate = torch.polar(spec.abs(), spec.angle() + noise)
    for _ in range(int(rng.integers(n_iter[0], n_iter[1] + 1))):
        out = torch.istft(estimate, n_fft, hop_length, window=window, length=len(x))
        phase = torch.stft(out, n_fft, hop_length, window=window, return_complex=True).angle()
        estimate = torch.polar(spec.abs(), phase)
    return torch.istft(estimate, n_fft, hop_length, window=window, length=len(x)).numpy().astype(np.float32)


def warp_envelope(envelope: np.ndarray, ratio: float) -> np.ndarray:
    """(T, F) spectral envelope with its frequency axis stretched by `ratio` (> 1 moves formants up).

    A formant at bin k moves to bin k * ratio; bins past the old top repeat its last value.
    """
    bins = envelope.shape[1]
    position = np.minimum(np.arange(bins) / ratio, bins - 1)
    low = np.minimum(np.floor(position).astype(int), bins - 2)
    frac = position - low
    return envelope[:, low] * (1.0 - frac) + envelope[:, low + 1] * frac


def world_resynth(
    y: np.ndarray,
    pitch_shift: float = 0.0,
    formant_shift: float = 1.0,
    *,
    sample_rate: int = SAMPLE_RATE,
    f0_method: str = "dio",
) -> np.ndarray:
    """float32 (N,) `y` analysed and re-synthesised with the WORLD vocoder (Morise et al., 2016).

    Args:
        y: float32 (N,) mono audio.
        pitch_shift: semitones the fundamental is moved by (0 keeps it).
        formant_shift: ratio the spectral envelope is stretched by along frequency (1 keeps it);
            with a pitch shift this is a crude voice conversion (gender, age).
        sample_rate: Hz of `y`.
        f0_method: "dio" (fast, refined by StoneMask) or "harvest" (slower, fewer octave errors).
    """
    with warnings.catch_warnings():  # pyworld 0.3.5 imports the deprecated pkg_resources, which warns
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
        import pyworld  # here, not at the top: most callers never need it

    trackers = {"dio": pyworld.dio, "harvest": pyworld.harvest}
    if f0_method not in trackers:
        raise ValueError(f"unknown f0_method {f0_method!r}; valid: {sorted(trackers)}")
    x = np.ascontiguousarray(_check_audio(y), np.float64)
    f0, times = trackers[f0_method](x, sample_rate)
    f0 = pyworld.stonemask(x, f0, times, sample_rate) if f0_method == "dio" else f0
    envelope = pyworld.cheaptrick(x, f0, times, sample_rate)
    aperiodicity = pyworld.d4c(x, f0, times, sample_rate)
    if formant_shift != 1.0:
        envelope = np.ascontiguousarray(warp_envelope(envelope, formant_shift))
    out = pyworld.synthesize(f0 * 2.0 ** (pitch_shift / 12.0), envelope, aperiodicity, sample_rate)
    return np.pad(out[: len(x)], (0, max(0, len(x) - len(out)))).astype(np.float32)


def splice(
    real: np.ndarray,
    fake: np.ndarray,
    rng: np.random.Generator,
    *,
    sample_rate: int = SAMPLE_RATE,
    count: tuple[int, int] = (1, 3),
    length_s: tuple[float, float] = (0.3, 1.5),
) -> tuple[np.ndarray, np.ndarray]:
    """A partial fake: stretches of `fake` cross-faded into `real` at random places.

    When `fake` is at least as long as `real` (a re-synthesis of it) each stretch comes from the same
    time, so the words run on; otherwise from a random place in `fake`.

    Returns:
        float32 (N,) audio, samples outside the segments exactly those of `real`; and float64 (K, 2)
        start, end seconds of the spliced segments, sorted.
    """
    real, fake = _check_audio(real), _check_audio(fake)
    longest = min(length_s[1], len(fake) / sample_rate)
    spans = draw_spans(rng, len(real), sample_rate, count=count, length_s=(min(length_s[0], longest), longest))
    if len(fake) >= len(real):
        offsets = spans[:, 0]
    else:
        offsets = np.array([rng.integers(0, len(fake) - (e - s) + 1) for s, e in spans], np.int64)
    audio = paste_spans(real, fake, spans, offsets, round(FADE_S * sample_rate))
    return audio, spans_to_seconds(spans, sample_rate)


def _griffin_lim_fake(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return griffin_lim(y, n_iter=int(rng.integers(16, 64)))


def _world_fake(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return world_resynth(y)


def _world_pitch_fake(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return world_resynth(y, pitch_shift=float(rng.choice([-1.0, 1.0]) * rng.uniform(1.0, 4.0)))


def _world_convert_fake(y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Formants and pitch moved together, as a crude voice conversion to another speaker would."""
    ratio = float(rng.choice([0.85, 1.15]) * rng.uniform(0.95, 1.05))
    return world_resynth(y, pitch_shift=float(12.0 * np.log2(ratio) * rng.uniform(1.5, 3.0)), formant_shift=ratio)


# Name -> fake(y, rng) at 16 kHz, same length as y. Codecs are not here: they are a channel, applied to
# real and fake alike (see codecs.CODECS), or a detector learns that compression means fake.
VOICE_FAKERS: dict[str, Callable[[np.ndarray, np.random.Generator], np.ndarray]] = {
    "griffin_lim": _griffin_lim_fake,
    "world": _world_fake,
    "world_pitch": _world_pitch_fake,
    "world_convert": _world_convert_fake,
    "upsampler": upsampling_artefacts,
    "phase": phase_resynth,
}


def voice_fake(name: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """float32 (N,) fake of 16 kHz `y` made by the VOICE_FAKERS entry `name`.

    Raises:
        ValueError: unknown name.
    """
    if name not in VOICE_FAKERS:
        raise ValueError(f"unknown voice faker {name!r}; valid: {sorted(VOICE_FAKERS)}")
    return VOICE_FAKERS[name](y, rng)
