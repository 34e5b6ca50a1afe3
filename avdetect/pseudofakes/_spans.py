"""Private helpers shared by voice splicing and partial audio replacement: where, and how to paste."""

from __future__ import annotations

import numpy as np


def draw_spans(
    rng: np.random.Generator,
    n_samples: int,
    sample_rate: int,
    *,
    count: tuple[int, int] = (1, 3),
    length_s: tuple[float, float] = (0.3, 1.5),
    gap_s: float = 0.2,
) -> np.ndarray:
    """int64 (K, 2) sorted, non-overlapping [start, end) sample spans, at least `gap_s` apart and from the ends.

    Raises:
        ValueError: the audio is too short to hold one span of the shortest length with its gaps.
    """
    gap = round(gap_s * sample_rate)
    shortest = round(length_s[0] * sample_rate)
    if n_samples < shortest + 2 * gap:
        raise ValueError(f"audio of {n_samples / sample_rate:.2f} s is too short for a {length_s[0]} s span")
    k = int(rng.integers(count[0], count[1] + 1))
    k = max(1, min(k, (n_samples - gap) // (shortest + gap)))
    lengths = rng.uniform(*length_s, k) * sample_rate
    room = n_samples - (k + 1) * gap
    lengths = lengths * min(1.0, room / lengths.sum())  # shrink all alike when they do not fit
    free = room - lengths.sum()
    gaps = gap + free * rng.dirichlet(np.ones(k + 1))[:k]
    starts = np.cumsum(gaps + np.concatenate([[0.0], lengths[:-1]]))
    spans = np.stack([starts, starts + lengths], 1)
    return np.clip(np.rint(spans), 0, n_samples).astype(np.int64)


def fade_window(length: int, fade: int) -> np.ndarray:
    """float32 (length,) weight rising over `fade` samples (raised cosine), flat at 1, falling at the end."""
    fade = min(fade, length // 2)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / max(fade, 1))
    window = np.ones(length, np.float32)
    if fade:
        window[:fade], window[-fade:] = ramp, ramp[::-1]
    return window


def rms(y: np.ndarray) -> float:
    """Root mean square of `y`; 0.0 for an empty array."""
    return float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) if len(y) else 0.0


def paste_spans(base: np.ndarray, other: np.ndarray, spans: np.ndarray, offsets: np.ndarray, fade: int) -> np.ndarray:
    """float32 copy of `base` with other[offset : offset + len] cross-faded into each span.

    `other` is first scaled to the loudness of `base`, so a pasted stretch is not given away by level.
    Samples outside the spans are exactly those of `base`.
    """
    gain = rms(base) / max(rms(other), 1e-8)
    out = base.astype(np.float32).copy()
    for (start, end), offset in zip(spans, offsets):
        window = fade_window(int(end - start), fade)
        piece = other[offset : offset + end - start] * gain
        out[start:end] = (1.0 - window) * out[start:end] + window * piece
    return out


def spans_to_seconds(spans: np.ndarray, sample_rate: int) -> np.ndarray:
    """float64 (K, 2) start, end seconds of sample `spans`."""
    return spans.astype(np.float64) / sample_rate
