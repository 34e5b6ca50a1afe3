"""The learnt sync block: offset and confidence of the sync network, and how both vary over windows.

Every window of `SyncNetConfig.window_s` (a step of `ScanConfig.stride_frames` apart) where someone speaks
and a mouth is tracked is compared with its audio moved by -1..+1 s (SyncNet's offset scan, Chung &
Zisserman 2016). The mean curve over windows gives the clip's offset (its peak) and confidence (peak over
median, SyncNet's measure); `zero_margin`/`zero_rank` say how far the in-sync audio beats the shifted ones;
the per-window peaks and margins say whether that holds all along. Only speech with a face counts: a clip
with music, silence or no face gets "no sync evidence" (`has_sync_evidence` 0, the rest NaN), never "out
of sync".

The weights are the package's (`avdetect/model/sync/sync.json`, shipped with the bundle), loaded once per
process on first use; `sync_learnt_features(..., checkpoint=PATH)` measures with another checkpoint.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from avdetect.errors import ModelFileError
from avdetect.records import Perception

if TYPE_CHECKING:  # torch is imported on first use, so the registry (and `avdetect --help`) stays light
    from avdetect.branches.sync import SyncNet, SyncNetConfig

SUMMARY_NAMES = ("offset_s", "abs_offset_s", "confidence", "zero_margin", "zero_rank", "window_offset_std_s",
                 "window_in_sync", "window_margin_mean", "window_margin_std", "window_margin_q10",
                 "window_confidence_mean")
NAMES = tuple(f"sync_learnt_{n}" for n in ("has_sync_evidence", "n_windows", *SUMMARY_NAMES))


@dataclass(frozen=True)
class ScanConfig:
    """Attributes:
    stride_frames: step between windows, mouth frames (0.2 s at 25 fps).
    max_offset_s: audio offsets from -max to +max are tried, one frame apart.
    far_s: offsets at least this far from 0 are "shifted" for the margins (the shifts trained against).
    in_sync_s: a window whose best offset is within this of 0 is in sync.
    min_speech: share of a window that must be speech.
    min_windows: fewer speech windows with a mouth than this is no sync evidence.
    """

    stride_frames: int = 5
    max_offset_s: float = 1.0
    far_s: float = 0.2
    in_sync_s: float = 0.1
    min_speech: float = 0.5
    min_windows: int = 3


def shipped_checkpoint() -> Path:
    """The sync checkpoint shipped in the package: avdetect/model/sync/sync.json."""
    return Path(__file__).resolve().parents[1] / "model" / "sync" / "sync.json"


@functools.lru_cache(maxsize=4)
def cached_model(path: str) -> SyncNet:
    """The network at `path`, read once per process (scoring measures many videos with one model)."""
    if not Path(path).is_file():
        raise ModelFileError(f"{path}: sync checkpoint missing; train one with `avdetect train-sync` "
                             "and copy sync.json + sync.safetensors there")
    from avdetect.branches.sync import load_sync_model

    return load_sync_model(path)


def sync_learnt_features(perception: Perception, *, checkpoint: str | os.PathLike | None = None,
                         scan: ScanConfig = ScanConfig()) -> np.ndarray:
    """float64 (len(NAMES),) the block; has_sync_evidence 0 and NaN elsewhere without speech and a mouth.

    Raises:
        ModelFileError: the checkpoint is missing or corrupt.
    """
    model = cached_model(str(checkpoint or shipped_checkpoint()))
    return sync_block(perception, model, scan)


def sync_block(perception: Perception, model: SyncNet, scan: ScanConfig = ScanConfig()) -> np.ndarray:
    """The block measured with `model`: the mouth track with the most confident curve wins."""
    from avdetect.branches.sync import clip_log_mel, resample_mouth

    audio = perception.clip.audio
    if perception.audio is None or not perception.mouths or len(audio) == 0:
        return no_evidence()
    net, mel = model.config, clip_log_mel(audio, model.config)
    found = []
    for mouth in perception.mouths:
        crops, start_s = resample_mouth(mouth, net.fps)
        starts = window_starts(len(crops), start_s, len(mel), perception.audio.speech_segments, net,
                               scan.stride_frames, scan.min_speech)
        if len(starts) >= scan.min_windows:
            sims, offsets_s = scan_windows(model, crops, start_s, mel, starts, scan)
            found.append((len(starts), summarise(sims, offsets_s, scan)))
    if not found:
        return no_evidence()
    n_windows, values = max(found, key=lambda f: f[1][2])  # index 2: confidence
    return np.concatenate([[1.0, n_windows], values])


def no_evidence() -> np.ndarray:
    """The block of a clip without speech windows where a mouth is tracked."""
    return np.concatenate([[0.0, 0.0], np.full(len(SUMMARY_NAMES), np.nan)])


def speech_share(segments: np.ndarray, start_s: np.ndarray, length_s: float) -> np.ndarray:
    """float64 (W,) share of each window [start, start + length) covered by speech segments (K, 2)."""
    ends = start_s + length_s
    covered = np.zeros(len(start_s))
    for a, b in segments:
        covered += np.clip(np.minimum(ends, b) - np.maximum(start_s, a), 0, None)
    return covered / length_s


def window_starts(n_crops: int, start_s: float, n_mel: int, speech: np.ndarray, net: SyncNetConfig,
                  stride: int, min_speech: float) -> np.ndarray:
    """int64 window starts (every `stride` crops) in speech whose own audio window lies in the clip."""
    from avdetect.branches.sync import mel_index

    starts = np.arange(0, max(0, n_crops - net.window_frames + 1), stride)
    times = start_s + starts / net.fps
    first = mel_index(times, net)
    keep = (first >= 0) & (first + net.mel_frames <= n_mel)
    keep &= speech_share(speech, times, net.window_s) >= min_speech
    return starts[keep]


def scan_windows(model: SyncNet, crops: np.ndarray, start_s: float, mel: np.ndarray, starts: np.ndarray,
                 scan: ScanConfig) -> tuple[np.ndarray, np.ndarray]:
    """float64 (W, D) similarities of each window with its audio at each offset, and the offsets (D,), s."""
    from avdetect.branches.sync import similarity_grid

    reach = int(round(scan.max_offset_s * model.config.fps))
    offsets = np.arange(-reach, reach + 1)
    return similarity_grid(model, crops, start_s, mel, starts, offsets), offsets / model.config.fps


def summarise(sims: np.ndarray, offsets_s: np.ndarray, scan: ScanConfig = ScanConfig()) -> np.ndarray:
    """float64 (len(SUMMARY_NAMES),) offset, confidence and margins of the mean curve, then per window.

    `sims` (W, D) is NaN where a moved audio window leaves the clip; the in-sync column never is.
    """
    curve = _nan_mean(sims, axis=0)
    best = int(np.nanargmax(curve))
    zero, far = int(np.argmin(np.abs(offsets_s))), np.abs(offsets_s) >= scan.far_s - 1e-9
    window_best = offsets_s[np.argmax(np.where(np.isnan(sims), -np.inf, sims), axis=1)]
    margins = sims[:, zero] - _nan_median(sims[:, far])
    window_conf = np.nanmax(sims, axis=1) - _nan_median(sims)
    ok = margins[~np.isnan(margins)]
    return np.array([
        offsets_s[best], abs(offsets_s[best]), curve[best] - np.nanmedian(curve),
        curve[zero] - np.nanmedian(curve[far]), float(np.mean(curve[far][~np.isnan(curve[far])] < curve[zero])),
        np.std(window_best), np.mean(np.abs(window_best) <= scan.in_sync_s + 1e-9),
        _or_nan(ok, np.mean), _or_nan(ok, np.std), _or_nan(ok, lambda m: np.quantile(m, 0.1)),
        np.mean(window_conf)], np.float64)


def _nan_mean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean over `axis` ignoring NaN; NaN (without a warning) where all are NaN."""
    count = np.sum(~np.isnan(x), axis=axis)
    return np.where(count > 0, np.nansum(x, axis=axis) / np.maximum(count, 1), np.nan)


def _nan_median(x: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN; NaN (without a warning) for all-NaN rows."""
    out = np.full(len(x), np.nan)
    rows = ~np.isnan(x).all(axis=1)
    out[rows] = np.nanmedian(x[rows], axis=1)
    return out


def _or_nan(values: np.ndarray, statistic) -> float:
    return float(statistic(values)) if len(values) else float("nan")
