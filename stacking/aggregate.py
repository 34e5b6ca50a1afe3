"""Per-video feature rows from per-frame face scores, per-window speech scores and lip-sync features.

The DFDC write-ups agree that how frame scores are pooled matters as much as the frame model: the
winner (Selim Seferbekov) averaged only the confident frames when there were many of them, and several
top teams took the maximum over faces because "some fakes swap one of several faces". So each track is
summarised by the named statistics in `AGGREGATORS`, then the stacker sees both the maximum over tracks
and the main (longest) track's values. Missing modalities are NaN features plus ``has_*`` flags, which
LightGBM routes down a learned default branch.

Container metadata (display ratio, bitrate, encoder) is deliberately absent: in DFDC the fakes' display
aspect ratio differed from the originals' (a leak, discussed in the competition forum), a cue that
vanishes on any other data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np

from stacking.errors import TableError
from stacking.records import FeatureTable, FrameScores, SyncTable, WindowScores

VISUAL, AUDIO, SYNC = "vis_", "aud_", "sync_"  # feature-name prefixes of the three modalities


def confident_mean(p: np.ndarray, threshold: float = 0.8, *, min_count: int = 11,
                   min_fraction: float = 0.4, low: float = 0.2, low_fraction: float = 0.9) -> float:
    """Mean of the confident scores when many are confident, else the plain mean.

    Selim Seferbekov's DFDC-winning ``confident_strategy``: when more than ``min_count`` frames and more
    than ``min_fraction`` of them score above ``threshold``, a fake is likely and the unsure frames only
    dilute it, so only the confident ones are averaged; when more than ``low_fraction`` score below
    ``low``, the same is done for the confidently real frames.

    Args:
        p: float (T,) frame probabilities.
        threshold: a frame above it is confidently fake.

    Returns:
        The pooled probability; NaN for an empty array.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.size == 0:
        return float("nan")
    fake = p > threshold
    # Selim's test is `fakes > sz // 2.5 and fakes > 11`.
    if fake.sum() > np.floor(p.size * min_fraction) and fake.sum() > min_count:
        return float(p[fake].mean())
    real = p < low
    if real.sum() > low_fraction * p.size:
        return float(p[real].mean())
    return float(p.mean())


def longest_run_fraction(p: np.ndarray, threshold: float = 0.5) -> float:
    """Length of the longest run of consecutive scores above ``threshold``, as a fraction of all.

    A manipulated segment gives a contiguous run of high scores, while a noisy frame model scatters
    isolated ones; the run length separates the two where the mean cannot. NaN for an empty array.
    """
    above = np.asarray(p, dtype=np.float64) > threshold
    if above.size == 0:
        return float("nan")
    # Runs are the stretches between edges of the padded indicator.
    edges = np.flatnonzero(np.diff(np.concatenate([[0], above.astype(np.int8), [0]])))
    runs = edges[1::2] - edges[0::2]
    return float(runs.max() / above.size) if runs.size else 0.0


def fraction_above(p: np.ndarray, threshold: float) -> float:
    """Fraction of scores above ``threshold``; NaN for an empty array."""
    p = np.asarray(p, dtype=np.float64)
    return float((p > threshold).mean()) if p.size else float("nan")


def _quantile(p: np.ndarray, q: float) -> float:
    return float(np.quantile(p, q))


# Name -> statistic of one time-ordered, non-empty float (T,) score sequence.
AGGREGATORS: dict[str, Callable[[np.ndarray], float]] = {
    "mean": np.mean,
    "median": np.median,
    "max": np.max,
    "q10": partial(_quantile, q=0.10),
    "q25": partial(_quantile, q=0.25),
    "q75": partial(_quantile, q=0.75),
    "q90": partial(_quantile, q=0.90),
    "std": np.std,
    "frac_gt50": partial(fraction_above, threshold=0.5),
    "frac_gt80": partial(fraction_above, threshold=0.8),
    "confident_mean": confident_mean,
    "longest_run": longest_run_fraction,
}


@dataclass(frozen=True)
class AggregateConfig:
    """Which statistics summarise each score sequence; saved with the stacker so inference matches."""

    stats: tuple[str, ...] = tuple(AGGREGATORS)  # names in `AGGREGATORS`

    def __post_init__(self) -> None:
        unknown = [name for name in self.stats if name not in AGGREGATORS]
        if unknown:
            raise ValueError(f"unknown aggregator(s) {unknown}; valid: {', '.join(AGGREGATORS)}")

    def to_dict(self) -> dict[str, list[str]]:
        return {key: list(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, raw: dict[str, Sequence[str]]) -> AggregateConfig:
        return cls(stats=tuple(raw["stats"]))


def sequence_stats(p: np.ndarray, config: AggregateConfig) -> np.ndarray:
    """float64 (S,) the configured statistics of one time-ordered sequence; all NaN when it is empty."""
    if len(p) == 0:
        return np.full(len(config.stats), np.nan)
    return np.array([AGGREGATORS[name](p) for name in config.stats], dtype=np.float64)


def interval_union_s(start_s: np.ndarray, end_s: np.ndarray) -> float:
    """Total seconds covered by possibly overlapping intervals (overlapping audio windows)."""
    total, reach = 0.0, -np.inf
    for start, end in sorted(zip(start_s.tolist(), end_s.tolist())):
        total += max(0.0, end - max(start, reach))
        reach = max(reach, end)
    return total


def visual_names(config: AggregateConfig) -> list[str]:
    stats = [f"{VISUAL}{where}_{s}" for where in ("max", "main") for s in config.stats]
    return stats + [f"{VISUAL}all_mean", "n_tracks", "n_faces", "n_frames", "has_face"]


def visual_features(track: np.ndarray, time_s: np.ndarray, p: np.ndarray,
                    config: AggregateConfig) -> np.ndarray:
    """float64 features (see `visual_names`) of one video's face scores (arrays of its rows)."""
    if len(p) == 0:
        nan = np.full(2 * len(config.stats) + 1, np.nan)
        return np.concatenate([nan, [0.0, 0.0, 0.0, 0.0]])
    ids, sizes = np.unique(track, return_counts=True)
    per_track = np.stack([sequence_stats(_in_time_order(p, time_s, track == i), config) for i in ids])
    main = int(np.argmax(sizes))  # the longest track; ties go to the smallest id
    n_frames = len(np.unique(time_s)) if not np.isnan(time_s).any() else int(sizes.max())
    counts = [len(ids), len(p), n_frames, 1.0]
    return np.concatenate([per_track.max(axis=0), per_track[main], [p.mean()], counts])


def _in_time_order(p: np.ndarray, time_s: np.ndarray, rows: np.ndarray) -> np.ndarray:
    # Stable, so rows without a time keep the order the branch wrote them in.
    return p[rows][np.argsort(time_s[rows], kind="stable")]


def audio_names(config: AggregateConfig) -> list[str]:
    return [f"{AUDIO}{s}" for s in config.stats] + ["n_windows", "speech_s", "has_audio"]


def audio_features(start_s: np.ndarray, end_s: np.ndarray, p: np.ndarray,
                   config: AggregateConfig) -> np.ndarray:
    """float64 features (see `audio_names`) of one video's window scores (arrays of its rows)."""
    if len(p) == 0:
        return np.concatenate([np.full(len(config.stats), np.nan), [0.0, 0.0, 0.0]])
    stats = sequence_stats(p[np.argsort(start_s, kind="stable")], config)
    return np.concatenate([stats, [len(p), interval_union_s(start_s, end_s), 1.0]])


def sync_names(sync: SyncTable) -> list[str]:
    """``sync_`` + each sync column (characters other than letters, digits and _ become _), has_sync."""
    clean = [re.sub(r"\W", "_", name, flags=re.ASCII) for name in sync.names]
    return [name if name.startswith(SYNC) else f"{SYNC}{name}" for name in clean] + ["has_sync"]


def rows_by_video(video: np.ndarray) -> dict[str, np.ndarray]:
    """Video id -> int64 indices of its rows, in file order."""
    ids, inverse = np.unique(video.astype(str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(ids)))[:-1]
    return dict(zip(ids.tolist(), np.split(order, bounds)))


def build_feature_table(visual: FrameScores | None, audio: WindowScores | None,
                        sync: SyncTable | None, *, videos: Sequence[str] | None = None,
                        config: AggregateConfig = AggregateConfig(),
                        extra: Sequence[SyncTable] = ()) -> FeatureTable:
    """One feature row per video from the three modalities' scores.

    Args:
        visual: per-face, per-frame scores, or None when the visual branch did not run.
        audio: per-window scores, or None.
        sync: per-video lip-sync features, or None.
        videos: the rows to produce, in this order (e.g. every manifest file, so that a video no branch
            scored still gets a row of NaNs); default: every video any table names, sorted.
        config: the statistics to compute.
        extra: further per-video feature tables (e.g. pitch or face-motion blocks), their columns appended
            under their own names; NaN for a video a table lacks.

    Returns:
        ``(videos, X, names)``: str (V,), float64 (V, F) and the F feature names.
    """
    visual = visual if visual is not None else FrameScores.empty()
    audio = audio if audio is not None else WindowScores.empty()
    sync = sync if sync is not None else SyncTable.empty()
    if videos is None:
        videos = sorted(set(visual.video.tolist()) | set(audio.video.tolist()) | set(sync.video.tolist()))
    videos = np.asarray(list(videos), dtype=str)
    blocks = [_visual_block(visual, videos, config), _audio_block(audio, videos, config),
              _sync_block(sync, videos)] + [_sync_block(table, videos)[:, :-1] for table in extra]
    names = tuple(visual_names(config) + audio_names(config) + sync_names(sync)
                  + [name for table in extra for name in table.names])
    if len(set(names)) < len(names):
        raise TableError(f"feature names collide: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return FeatureTable(videos, np.concatenate(blocks, axis=1), names)


def _visual_block(scores: FrameScores, videos: np.ndarray, config: AggregateConfig) -> np.ndarray:
    rows = rows_by_video(scores.video)
    none = np.zeros(0, np.int64)
    feats = [visual_features(scores.track[r], scores.time_s[r], scores.p[r], config)
             for r in (rows.get(v, none) for v in videos.tolist())]
    return _stack(feats, len(visual_names(config)))


def _audio_block(scores: WindowScores, videos: np.ndarray, config: AggregateConfig) -> np.ndarray:
    rows = rows_by_video(scores.video)
    none = np.zeros(0, np.int64)
    feats = [audio_features(scores.start_s[r], scores.end_s[r], scores.p[r], config)
             for r in (rows.get(v, none) for v in videos.tolist())]
    return _stack(feats, len(audio_names(config)))


def _stack(rows: list[np.ndarray], width: int) -> np.ndarray:
    return np.stack(rows) if rows else np.zeros((0, width))


def _sync_block(sync: SyncTable, videos: np.ndarray) -> np.ndarray:
    index = {v: i for i, v in enumerate(sync.video.tolist())}
    block = np.full((len(videos), len(sync.names) + 1), np.nan)
    for row, video in enumerate(videos.tolist()):
        found = index.get(video)
        block[row, -1] = 0.0 if found is None else 1.0
        if found is not None:
            block[row, :-1] = sync.values[found]
    return block
