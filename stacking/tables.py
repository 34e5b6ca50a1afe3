"""Readers of the branches' CSV files into the records of `stacking.records`, and path matching.

The readers accept the columns `avdetect.training` writes (``path, track, position, time_s, label,
fold, probability``) and a few common aliases (first match wins):

* visual ``runs/visual/oof.csv``, a row per face crop: ``path``, ``track``, ``time_s`` (or a frame
  index ``position``/``frame_idx`` for the order when there is no time), ``probability``; its ``label``
  is the face's label (the manifest's video_label, else label).
* audio ``runs/audio/oof.csv``, a row per window: ``path``, ``start_s`` (the training code writes the
  start as ``time_s``), ``end_s`` (when absent: start + the branch's window length), ``probability``;
  its ``label`` is the window's own label, from the file's fake segments.
* sync ``runs/sync/features.csv``, a row per video: ``path`` and numeric feature columns (empty = NaN).
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stacking.errors import TableError
from stacking.records import FrameScores, SyncTable, WindowScores

logger = logging.getLogger(__name__)

ALIASES: dict[str, tuple[str, ...]] = {
    "path": ("path", "video", "video_path", "file"),
    "p": ("p_fake", "prob", "probability", "p", "score"),
    "track": ("track", "track_id"),
    "time_s": ("time_s", "t_s", "time", "timestamp_s"),
    "frame": ("position", "frame_idx", "frame", "frame_index"),
    "start_s": ("start_s", "start", "time_s"),
    "end_s": ("end_s", "end"),
}
# Columns of a sync table that describe the row rather than measure the video.
NON_FEATURES = {"fold", "label", "video_label", "audio_label", "group", "actor", "dataset", "split",
                "status", "error", "fake_segments"}
LABEL_VALUES = {"FAKE": 1, "1": 1, "TRUE": 1, "REAL": 0, "0": 0, "FALSE": 0, "": -1}


def read_columns(path: Path | str) -> dict[str, list[str]]:
    """Column name -> its cells, for a CSV file with a header row."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{path}: file not found")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [name.strip() for name in next(reader, [])]
        rows = list(reader)
    if not header:
        raise TableError(f"{path}: empty file, expected a header row")
    bad = [i + 2 for i, row in enumerate(rows) if len(row) != len(header)]
    if bad:
        raise TableError(f"{path}: line(s) {bad[:5]} do not have {len(header)} cells")
    return {name: [row[i].strip() for row in rows] for i, name in enumerate(header)}


def find_column(columns: dict[str, list[str]], key: str, source: Path | str, *,
                required: bool = True) -> list[str] | None:
    """The cells of the first column named by ``ALIASES[key]``; TableError if required and absent."""
    for name in ALIASES[key]:
        if name in columns:
            return columns[name]
    if required:
        raise TableError(f"{source}: no {key} column; expected one of {', '.join(ALIASES[key])}")
    return None


def floats(cells: Sequence[str], name: str, source: Path | str) -> np.ndarray:
    """float64 array of ``cells``; empty cells are NaN, anything else unparsable is an error."""
    try:
        return np.array([float(c) if c else np.nan for c in cells], dtype=np.float64)
    except ValueError:
        bad = next(c for c in cells if c and not _is_float(c))
        raise TableError(f"{source}: column {name} holds {bad!r}, not a number") from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_frame_scores(path: Path | str) -> FrameScores:
    """The visual branch's per-face, per-frame rows (see the module docstring)."""
    cols = read_columns(path)
    video = np.array(find_column(cols, "path", path), dtype=str)
    p = floats(find_column(cols, "p", path), "p_fake", path)
    track_cells = find_column(cols, "track", path, required=False) or ["0"] * len(p)
    time_cells = find_column(cols, "time_s", path, required=False)
    time_s = floats(time_cells, "time_s", path) if time_cells else np.full(len(p), np.nan)
    order = np.arange(len(p))
    if time_cells is None and (frames := find_column(cols, "frame", path, required=False)):
        order = np.argsort(floats(frames, "frame_idx", path), kind="stable")  # frames in frame order
    track = floats(track_cells, "track", path)
    if np.isnan(track).any():
        raise TableError(f"{path}: empty track cell(s)")
    return FrameScores(video[order], track[order].astype(np.int64), time_s[order], p[order])


def read_window_scores(path: Path | str, *, window_s: float = 2.0) -> WindowScores:
    """The audio branch's per-window rows (see the module docstring).

    Args:
        window_s: window length, seconds, when the file has no end column (the audio branch's
            ``MelConfig.window_s``, 2 s by default).
    """
    cols = read_columns(path)
    start = floats(find_column(cols, "start_s", path), "start_s", path)
    end_cells = find_column(cols, "end_s", path, required=False)
    end = floats(end_cells, "end_s", path) if end_cells is not None else start + window_s
    if np.isnan(start).any() or np.isnan(end).any():
        raise TableError(f"{path}: empty start_s or end_s cell(s)")
    return WindowScores(np.array(find_column(cols, "path", path), dtype=str), start, end,
                        floats(find_column(cols, "p", path), "p_fake", path))


def read_sync_table(path: Path | str) -> SyncTable:
    """Per-video lip-sync features: every numeric column except the path and `NON_FEATURES`."""
    cols = read_columns(path)
    video = np.array(find_column(cols, "path", path), dtype=str)
    names, values = [], []
    for name, cells in cols.items():
        if name in ALIASES["path"] or name in NON_FEATURES:
            continue
        if not all(_is_float(c) for c in cells if c):
            logger.warning("%s: column %s is not numeric; not used as a feature", path, name)
            continue
        names.append(name)
        values.append(floats(cells, name, path))
    matrix = np.stack(values, axis=1) if values else np.zeros((len(video), 0))
    return SyncTable(video, matrix, tuple(names))


def parse_label(text: str) -> int:
    """1 for FAKE, 0 for REAL (also 1/0, true/false), -1 for empty; TableError otherwise."""
    value = LABEL_VALUES.get(text.strip().upper())
    if value is None:
        raise TableError(f"unknown label {text!r}; valid: REAL, FAKE, 0, 1 or empty")
    return value


def per_video_labels(path: Path | str, *, any_fake: bool = False) -> dict[str, int]:
    """Video -> its label (1 FAKE, 0 REAL) from the rows' ``label`` column ({} without one).

    Args:
        any_fake: the rows label parts of a video (audio windows): the video's label is FAKE when any
            part is. Otherwise every row of a video must carry the same label (TableError if not).
    """
    cols = read_columns(path)
    if "label" not in cols:
        return {}
    labels: dict[str, int] = {}
    for video, text in zip(find_column(cols, "path", path), cols["label"]):
        label = parse_label(text)
        if label < 0:
            continue
        if any_fake:
            labels[video] = max(labels.get(video, 0), label)
        elif labels.setdefault(video, label) != label:
            raise TableError(f"{path}: rows of {video} carry both labels")
    return labels


def match_paths(ids: Sequence[str], known: Sequence[str], bases: Sequence[Path]) -> dict[str, str]:
    """Maps ids (paths as some file wrote them) onto ``known`` absolute paths; unmatched ids are left out.

    A relative id is tried against each base folder in turn, then as the unique known path ending
    with it (files written relative to another root).
    """
    known_set = {os.path.normpath(k) for k in known}
    by_suffix: dict[str, list[str]] = {}
    out = {}
    for video in dict.fromkeys(ids):
        found = _match_one(video, known_set, bases)
        if found is None:
            if not by_suffix:
                by_suffix = _suffix_index(known_set)
            candidates = by_suffix.get(Path(video).name, [])
            hits = [k for k in candidates if k.endswith(os.sep + os.path.normpath(video))]
            found = hits[0] if len(hits) == 1 else None
        if found is not None:
            out[video] = found
    return out


def _match_one(video: str, known: set[str], bases: Sequence[Path]) -> str | None:
    if os.path.isabs(video):
        path = os.path.normpath(video)
        return path if path in known else None
    for base in bases:
        path = os.path.normpath(os.path.join(os.path.abspath(base), video))
        if path in known:
            return path
    return None


def _suffix_index(known: set[str]) -> dict[str, list[str]]:
    index: dict[str, list[str]] = {}
    for path in known:
        index.setdefault(os.path.basename(path), []).append(path)
    return index
