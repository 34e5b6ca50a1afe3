"""One manifest format for every dataset: a CSV with a row per media file.

Columns, in this order (``fake_segments`` is optional when reading)::

    path, label, video_label, audio_label, group, actor, dataset, split, fake_segments, generator, family

* ``path``: absolute, or relative to the folder that holds the manifest. `read_manifest` resolves
  relative paths against that folder, so a manifest written next to (or above) its dataset can be moved
  together with it. `write_manifest` writes a path relative when it lies under the manifest's folder
  and absolute otherwise.
* ``label``: REAL or FAKE for the whole file (case-insensitive on reading). FAKE when any modality is.
* ``video_label``, ``audio_label``: REAL, FAKE or empty when the dataset does not say.
* ``group``: the source video a file comes from. A fake and its original share a group; folds never
  split a group (see `avdetect.corpus.folds`). Empty on reading means "its own group" (the path as written).
* ``actor``: the person, when known (e.g. ``id00076``); empty otherwise. Folds never split an actor.
* ``dataset``, ``split``: free text, e.g. ``dfdc`` and ``train``; empty when unknown.
* ``fake_segments``: JSON list of ``[start_s, end_s]`` manipulated intervals, seconds from the start
  (AV-Deepfake1M, LAV-DF); empty or ``[]`` when unknown or none.
* ``generator``, ``family`` (optional): the exact system that made a fake (``hifigan``) and its kind
  (``vocoder``); empty for reals and when unknown. `avdetect folds --hold-out` keeps each in one fold.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from avdetect.errors import InputError, ManifestError

REAL = "REAL"
FAKE = "FAKE"
LABELS = (REAL, FAKE)
COLUMNS = ("path", "label", "video_label", "audio_label", "group", "actor", "dataset", "split",
           "fake_segments", "generator", "family")
REQUIRED_COLUMNS = COLUMNS[:8]  # fake_segments, generator and family may be absent


@dataclass(frozen=True)
class ManifestRow:
    """One media file of a dataset, with what is known of its labels and provenance."""

    path: Path  # absolute after `read_manifest`; adapters give absolute paths too
    label: str  # REAL or FAKE for the whole file
    group: str  # source video; a fake shares the group of its original
    video_label: str | None = None  # REAL, FAKE or None when unknown
    audio_label: str | None = None  # REAL, FAKE or None when unknown
    actor: str | None = None  # person id when known, e.g. "id00076"
    dataset: str = ""
    split: str = ""  # the dataset's own split when it has one ("train", "val", "test")
    fake_segments: tuple[tuple[float, float], ...] = ()  # (start_s, end_s) seconds from the start
    generator: str = ""  # the system that made a fake, e.g. "hifigan"; "" for reals and when unknown
    family: str = ""  # the generator's kind, e.g. "vocoder"; "" for reals and when unknown

    def __post_init__(self) -> None:
        _check_label(self.label, "label", optional=False)
        _check_label(self.video_label, "video_label", optional=True)
        _check_label(self.audio_label, "audio_label", optional=True)
        if self.label == REAL and FAKE in (self.video_label, self.audio_label):
            raise ManifestError(f"{self.path}: label is REAL but a modality is FAKE; label must be FAKE")
        if not self.group:
            raise ManifestError(f"{self.path}: empty group")
        _check_segments(self.fake_segments)


def _check_label(value: str | None, column: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if value not in LABELS:
        valid = ", ".join(LABELS) + (" or empty" if optional else "")
        raise ManifestError(f"unknown {column} {value!r}; valid: {valid}")


def _check_segments(segments: tuple[tuple[float, float], ...]) -> None:
    for start, end in segments:
        if not 0 <= start <= end:
            raise ManifestError(f"fake segment [{start}, {end}] must satisfy 0 <= start <= end")


def normalize_label(value: str | None) -> str | None:
    """Upper-cases and strips a label; an empty or missing value becomes None."""
    value = (value or "").strip().upper()
    return value or None


def parse_segments(text: str | None) -> tuple[tuple[float, float], ...]:
    """Parses ``fake_segments`` JSON (``[[1.2, 1.8], ...]``); empty text means no segments.

    Raises:
        ManifestError: the text is not JSON or not a list of [start_s, end_s] number pairs.
    """
    if not (text or "").strip():
        return ()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ManifestError(f"fake_segments is not JSON ({err.msg}): {text!r}") from None
    return segments_from(value)


def segments_from(value: object) -> tuple[tuple[float, float], ...]:
    """Converts a decoded JSON list of ``[start_s, end_s]`` pairs to a tuple of float pairs."""
    ok = isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2
        and all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)
        for pair in value
    )
    if not ok:
        raise ManifestError(f"fake_segments must be a list of [start_s, end_s] pairs, got {value!r}")
    return tuple((float(start), float(end)) for start, end in value)


def resolve_path(text: str, base: Path) -> Path:
    """Returns ``text`` as an absolute path, reading a relative one against ``base``."""
    path = Path(text).expanduser()
    return path if path.is_absolute() else Path(os.path.normpath(base.absolute() / path))


def source_name(path: Path) -> str:
    """A file's name wherever the data lies, ``<folder>/<file>``: what per-file random draws are seeded on, so
    a recipe run from another checkout or work folder draws the same."""
    return f"{path.parent.name}/{path.name}"


def portable_path(path: Path, base: Path) -> str:
    """Returns ``path`` relative to ``base`` (POSIX) when it lies under it, else as an absolute path."""
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.relative_to(base.absolute()).as_posix()
    except ValueError:
        return path.as_posix()


def read_manifest(path: Path | str, *, check_paths: bool = False) -> list[ManifestRow]:
    """Reads a manifest CSV written by `write_manifest` (or by hand, see the module docstring).

    Args:
        path: the manifest CSV.
        check_paths: also require every listed file to exist.

    Returns:
        The rows in file order, with absolute paths.

    Raises:
        InputError: the manifest file does not exist.
        ManifestError: a column is missing; a label, segment list or group is invalid (the message
            gives the line number); a path is listed twice; or, with ``check_paths``, files are missing.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"manifest not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        _check_columns(reader.fieldnames or [], REQUIRED_COLUMNS, path)
        rows = [_parse_row(record, path, reader.line_num) for record in reader]
    check_unique_paths(rows, source=str(path))
    if check_paths:
        check_paths_exist(rows, source=str(path))
    return rows


def _check_columns(found: Sequence[str], required: Sequence[str], path: Path) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise ManifestError(f"{path}: missing column(s) {', '.join(missing)}; "
                            f"expected {', '.join(required)}")


def _parse_row(record: dict[str, str], source: Path, line: int) -> ManifestRow:
    try:
        if not (record["path"] or "").strip():
            raise ManifestError("empty path")
        return ManifestRow(
            path=resolve_path(record["path"].strip(), source.parent),
            label=normalize_label(record["label"]) or "",
            video_label=normalize_label(record["video_label"]),
            audio_label=normalize_label(record["audio_label"]),
            group=(record["group"] or "").strip() or record["path"],
            actor=(record["actor"] or "").strip() or None,
            dataset=(record["dataset"] or "").strip(),
            split=(record["split"] or "").strip(),
            fake_segments=parse_segments(record.get("fake_segments")),
            generator=(record.get("generator") or "").strip(),
            family=(record.get("family") or "").strip(),
        )
    except ManifestError as err:
        raise ManifestError(f"{source}, line {line}: {err}") from None


def write_manifest(rows: Iterable[ManifestRow], path: Path | str) -> None:
    """Writes ``rows`` as a manifest CSV (all columns), creating the parent folder if needed.

    Raises:
        ManifestError: a path is listed twice.
    """
    path = Path(path)
    rows = list(rows)
    check_unique_paths(rows, source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(_format_row(row, path.parent) for row in rows)


def _format_row(row: ManifestRow, base: Path) -> list[str]:
    segments = json.dumps([list(s) for s in row.fake_segments]) if row.fake_segments else ""
    return [portable_path(row.path, base), row.label, row.video_label or "", row.audio_label or "",
            row.group, row.actor or "", row.dataset, row.split, segments, row.generator, row.family]


def check_unique_paths(rows: Sequence[ManifestRow], *, source: str) -> None:
    """Raises ManifestError naming the first paths listed more than once."""
    seen: set[Path] = set()
    duplicates = []
    for row in rows:
        if row.path in seen:
            duplicates.append(str(row.path))
        seen.add(row.path)
    if duplicates:
        raise ManifestError(f"{source}: {len(duplicates)} duplicate path(s), e.g. {duplicates[:3]}")


def check_paths_exist(rows: Sequence[ManifestRow], *, source: str) -> None:
    """Raises ManifestError with the count and first few files of ``rows`` that do not exist."""
    missing = [str(row.path) for row in rows if not row.path.is_file()]
    if missing:
        raise ManifestError(f"{source}: {len(missing)} listed file(s) do not exist, e.g. {missing[:3]}")


def label_counts(rows: Sequence[ManifestRow]) -> tuple[int, int]:
    """Returns (number of REAL rows, number of FAKE rows)."""
    n_fake = sum(row.label == FAKE for row in rows)
    return len(rows) - n_fake, n_fake
