"""Speech activity from silero-vad: a small neural detector that tells speech from noise and music.

The energy detector of `avdetect.perception.audio` finds the loud parts of a file, so a noisy lead-in
or background music counts as speech; silero-vad (``silero-vad==6.2.3``, its TorchScript model ships in
the wheel) scores 32 ms frames with a speech probability. Its span settings come from the same
`SpeechConfig` as the energy detector's (minimum silence and speech, padding), so the two are
interchangeable (``SpeechConfig(method="silero")``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

SILERO_RATES = (8_000, 16_000)  # the sample rates silero-vad's model takes
SPEECH_THRESHOLD = 0.5  # silero-vad's default frame probability for speech


@functools.lru_cache(maxsize=1)
def silero_model() -> Any:
    """silero-vad's TorchScript model, loaded from its wheel once per process (~50 ms)."""
    from silero_vad import load_silero_vad

    return load_silero_vad(onnx=False)


def silero_speech(audio: np.ndarray, sample_rate: int, *, min_silence_s: float, min_speech_s: float,
                  pad_s: float, threshold: float = SPEECH_THRESHOLD) -> np.ndarray:
    """Speech spans of ``audio`` by silero-vad.

    Args:
        audio: float32 (N,) mono in [-1, 1].
        sample_rate: Hz, 8000 or 16000.
        min_silence_s: pauses shorter than this are bridged.
        min_speech_s: speech bursts shorter than this are dropped.
        pad_s: kept around each speech span.
        threshold: frame speech probability above which a frame is speech.

    Returns:
        float64 (K, 2) start, end seconds of speech; (0, 2) when there is none.

    Raises:
        ValueError: a sample rate silero-vad does not take.
    """
    if sample_rate not in SILERO_RATES:
        raise ValueError(f"silero-vad takes {SILERO_RATES} Hz audio, got {sample_rate}; resample first")
    if len(audio) == 0:
        return np.zeros((0, 2))
    import torch
    from silero_vad import get_speech_timestamps

    with torch.no_grad():
        spans = get_speech_timestamps(
            torch.from_numpy(np.ascontiguousarray(audio, np.float32)), silero_model(),
            threshold=threshold, sampling_rate=sample_rate, min_speech_duration_ms=int(min_speech_s * 1000),
            min_silence_duration_ms=int(min_silence_s * 1000), speech_pad_ms=int(pad_s * 1000),
        )
    segments = np.array([(s["start"], s["end"]) for s in spans], np.float64).reshape(-1, 2) / sample_rate
    return np.clip(segments, 0.0, len(audio) / sample_rate)
