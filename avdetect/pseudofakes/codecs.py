"""Lossy codec round trips through PyAV: the channel a voice passes through before it reaches a detector.

ASVspoof 2021's LA and DF tracks (Liu et al., 2023) showed countermeasures trained on clean audio
collapse on telephone and compressed audio; round-tripping both real and fake training audio through
the same codecs keeps a detector from learning "compressed means real" or the reverse.

Encoding needs PyAV objects, so this module is the one place besides ``avdetect.perception.video`` that holds them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np
from scipy import signal

from avdetect.defaults import SAMPLE_RATE

MAX_DELAY = 4096  # most samples of encoder priming looked for when re-aligning the decoded audio


@dataclass(frozen=True)
class Codec:
    """One lossy channel: an FFmpeg encoder in a container, at a rate and bit rate."""

    container: str  # FFmpeg muxer name
    encoder: str  # FFmpeg encoder name
    rate: int  # Hz the encoder runs at
    bit_rate: int = 0  # bits per second; 0 for the encoder's default
    band_hz: tuple[float, float] | None = None  # band-pass before encoding, e.g. the telephone band


CODECS = {
    "mp3": Codec("mp3", "libmp3lame", SAMPLE_RATE, 24_000),
    "aac": Codec("adts", "aac", SAMPLE_RATE, 24_000),
    "opus": Codec("ogg", "libopus", SAMPLE_RATE, 12_000),
    # G.711 mu-law at 8 kHz behind the 300-3400 Hz band of a landline (ITU-T G.712).
    "telephone": Codec("wav", "pcm_mulaw", 8000, 0, (300.0, 3400.0)),
    # AMR-NB 12.2 kbit/s, the GSM mobile voice codec.
    "amr": Codec("amr", "libopencore_amrnb", 8000, 12_200, (300.0, 3400.0)),
}


def _bandpass(y: np.ndarray, band_hz: tuple[float, float], sample_rate: int) -> np.ndarray:
    """Zero-phase 4th-order Butterworth band-pass (no delay to undo)."""
    sos = signal.butter(4, band_hz, btype="bandpass", fs=sample_rate, output="sos")
    return signal.sosfiltfilt(sos, y).astype(np.float32)


def _encode(y: np.ndarray, codec: Codec, sample_rate: int) -> io.BytesIO:
    """The bytes of `y` encoded with `codec`, as an in-memory file."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=codec.container) as container:
        stream = container.add_stream(codec.encoder, rate=codec.rate, layout="mono")
        if codec.bit_rate:
            stream.bit_rate = codec.bit_rate
        sample_format = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=sample_format, layout="mono", rate=codec.rate)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(y, np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for resampled in resampler.resample(frame) + resampler.resample(None):
            container.mux(stream.encode(resampled))
        container.mux(stream.encode(None))
    buffer.seek(0)
    return buffer


def _decode(buffer: io.BytesIO, sample_rate: int) -> np.ndarray:
    """float32 (N,) mono at `sample_rate` of the first audio stream in an in-memory file."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    chunks = []
    with av.open(buffer) as container:
        for frame in container.decode(audio=0):
            chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    chunks.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def _realign(decoded: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`decoded` shifted to undo encoder priming (found by cross-correlation) and cut or padded to length."""
    n = min(len(reference), len(decoded) - MAX_DELAY)  # samples compared at every candidate delay
    if n > 0 and np.any(reference[:n]):
        scores = signal.correlate(decoded[: n + MAX_DELAY], reference[:n], mode="valid", method="fft")
        decoded = decoded[int(np.argmax(scores)) :]
    size = len(reference)
    return np.pad(decoded[:size], (0, max(0, size - len(decoded)))).astype(np.float32)


def codec_roundtrip(y: np.ndarray, codec: str, *, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 (N,) `y` encoded with a lossy codec and decoded back, same rate and length, time-aligned.

    Args:
        y: float32 (N,) mono audio in [-1, 1].
        codec: a name in CODECS.
        sample_rate: Hz of `y` and of the result.

    Raises:
        ValueError: unknown codec name.
    """
    if codec not in CODECS:
        raise ValueError(f"unknown codec {codec!r}; valid: {sorted(CODECS)}")
    spec = CODECS[codec]
    y = np.asarray(y, np.float32)
    shaped = _bandpass(y, spec.band_hz, sample_rate) if spec.band_hz else y
    decoded = _decode(_encode(np.clip(shaped, -1.0, 1.0), spec, sample_rate), sample_rate)
    return _realign(decoded, y)
