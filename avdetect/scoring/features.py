"""The stacker's feature row of one scored video, made by the extractors a bundle's spec names.

The row comes from `stacking.aggregate.build_feature_table`, the same function `fit-stacker` builds its
training table with, so training and scoring compute every column alike. Each extractor declares the
columns it makes (`avdetect.spec.EXTRACTORS`); `Detector.load` refuses a bundle whose stacker expects a column no extractor makes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avdetect.errors import ModelFileError
from avdetect.features.registry import VIDEO_EXTRACTORS, get_extractor
from avdetect.perception.lipsync import SYNC_COLUMNS, sync_vector
from avdetect.perception.tracks import even_picks
from avdetect.records import Perception, SyncFeatures
from avdetect.scoring.scores import TrackScores, WindowScores
from stacking import records as stack
from stacking.aggregate import AggregateConfig, build_feature_table


def feature_row(video: str, tracks: tuple[TrackScores, ...], windows: WindowScores, sync: SyncFeatures | None,
                *, names: tuple[str, ...], config: AggregateConfig, frames_per_track: int | None,
                blocks: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """float64 (1, F) the stacker's row, in its column order `names` (NaN where a modality is absent).

    `blocks` holds the video's `avdetect.features` blocks by extractor name (`video_blocks`).

    Raises:
        ModelFileError: a column of `names` is not made here (`Detector.load` checks this first).
    """
    table = build_feature_table(
        frame_table(video, tracks, frames_per_track),
        stack.WindowScores(np.full(len(windows.probs), video), windows.start_s, windows.end_s,
                           windows.probs.astype(np.float64)),
        sync_table(video, sync),
        videos=[video],
        config=config,
        extra=[stack.SyncTable(np.array([video]), values[None, :], get_extractor(name).names)
               for name, values in (blocks or {}).items()],
    )
    missing = [name for name in names if name not in table.names]
    if missing:
        raise ModelFileError(f"the stacker expects {', '.join(missing)}, which the scorer does not make")
    return np.array([[table.column(name)[0] for name in names]])


def video_blocks(perception: Perception, extractors: tuple[str, ...], models: Path | None = None
                 ) -> dict[str, np.ndarray]:
    """The `avdetect.features` blocks among `extractors` (score statistics are made elsewhere), by name;
    blocks with weights read them from the `models` folder (the bundle's)."""
    return {name: get_extractor(name)(perception, models) for name in extractors if name in VIDEO_EXTRACTORS}


def frame_table(video: str, tracks: tuple[TrackScores, ...], per_track: int | None) -> stack.FrameScores:
    """Frame scores as the stacker's input, `per_track` evenly spread frames of each track (all if None)."""
    if not tracks:
        return stack.FrameScores.empty()
    picks = [even_picks(len(t.probs), per_track) if per_track else np.arange(len(t.probs)) for t in tracks]
    return stack.FrameScores(
        np.full(sum(len(k) for k in picks), video),
        np.concatenate([np.full(len(k), t.track_id, np.int64) for k, t in zip(picks, tracks)]),
        np.concatenate([t.times_s[k] for k, t in zip(picks, tracks)]),
        np.concatenate([t.probs[k] for k, t in zip(picks, tracks)]).astype(np.float64),
    )


def sync_table(video: str, sync: SyncFeatures | None) -> stack.SyncTable:
    """One row of sync features, or none (the stacker then sees has_sync = 0), with fixed columns."""
    if sync is None:
        return stack.SyncTable.empty(SYNC_COLUMNS)
    return stack.SyncTable(np.array([video]), sync_vector(sync)[None, :], SYNC_COLUMNS)
