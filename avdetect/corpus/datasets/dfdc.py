"""DFDC (Deepfake Detection Challenge, Kaggle 2020) -> manifest rows.

Layout: ``ROOT/dfdc_train_part_N/metadata.json`` next to that part's videos, or ``ROOT/metadata.json``
when ROOT is one part. Each metadata entry reads
``{"abc.mp4": {"label": "FAKE", "original": "xyz.mp4", "split": "train"}}``; a fake's group is its
original video, a real's group is itself. DFDC does not name actors, nor which modality a fake
altered (some fakes swap the voice), so ``actor`` and a fake's per-modality labels stay empty.
"""

from __future__ import annotations

from pathlib import Path

from avdetect.corpus.datasets.common import load_json, require_dir, require_files
from avdetect.corpus.manifest import REAL, ManifestRow, normalize_label
from avdetect.errors import DatasetLayoutError, ManifestError

DATASET = "dfdc"


def prepare(root: Path) -> list[ManifestRow]:
    """Lists every video of every DFDC part under ``root``.

    Raises:
        DatasetLayoutError: no metadata.json, a part folder without one, malformed metadata, or
            listed videos that are missing.
        ManifestError: a metadata entry has an unknown label.
    """
    root = require_dir(root)
    rows = [row for part in part_folders(root) for row in _part_rows(part)]
    require_files(rows, root=root)
    return rows


def part_folders(root: Path) -> list[Path]:
    """``root`` when it holds metadata.json, else its sub-folders that do (all ``dfdc_*`` must)."""
    if (root / "metadata.json").is_file():
        return [root]
    subfolders = sorted(p for p in root.iterdir() if p.is_dir())
    for folder in subfolders:
        if folder.name.startswith("dfdc_") and not (folder / "metadata.json").is_file():
            raise DatasetLayoutError(f"DFDC part folder has no metadata.json: {folder}")
    parts = [p for p in subfolders if (p / "metadata.json").is_file()]
    if not parts:
        raise DatasetLayoutError(
            f"no metadata.json in {root} nor in its sub-folders; expected "
            "ROOT/dfdc_train_part_N/metadata.json (or ROOT/metadata.json for one part)"
        )
    return parts


def _part_rows(part: Path) -> list[ManifestRow]:
    metadata = load_json(part / "metadata.json")
    if not isinstance(metadata, dict):
        raise DatasetLayoutError(f"{part / 'metadata.json'}: expected an object of file -> entry")
    return [_row(part, name, entry) for name, entry in metadata.items()]


def _row(part: Path, name: str, entry: object) -> ManifestRow:
    if not isinstance(entry, dict):
        raise DatasetLayoutError(f"{part / 'metadata.json'}: entry {name!r} is not an object")
    label = normalize_label(entry.get("label"))
    original = entry.get("original") or name
    try:
        return ManifestRow(
            path=part / name,
            label=label or "",
            group=Path(original).stem,
            video_label=REAL if label == REAL else None,
            audio_label=REAL if label == REAL else None,
            dataset=DATASET,
            split=str(entry.get("split") or ""),
        )
    except ManifestError as err:
        raise ManifestError(f"{part / 'metadata.json'}, entry {name!r}: {err}") from None
