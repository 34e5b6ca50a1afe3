"""Any folder of media -> manifest rows, labelled by ``real/`` and ``fake/`` folders or by a CSV.

Folder mode: every video or audio file under ROOT (recursively) that lies inside a folder named
``real`` or ``fake`` (any case, at any depth; the nearest one wins) gets that label. Media outside
such folders is skipped and counted in the log.

CSV mode (``csv=``): a CSV with at least ``path,label``; ``video_label``, ``audio_label``, ``group``,
``actor``, ``dataset``, ``split``, ``fake_segments``, ``generator`` and ``family`` are kept when present
(the shared data's MANIFEST.csv has the last two). Relative paths are read
against ROOT. Rows labelled ``UNKNOWN`` are skipped (their count is logged): a manifest is for
training and evaluation, which need a label, and unlabelled files can be scored directly. Files that
are neither video nor audio (images, archives) are skipped and counted too. A per-modality label
``UNKNOWN`` is read as empty.

When a row has no group, one is inferred from file names (see `common.infer_groups`): ``519_515``
unites ids 519 and 515, ``<x>-real``/``<x>-fake`` share ``x``, DFDC face-crop videos
``0_aaqaifqrwn.mp4_0_0.mp4`` belong to ``aaqaifqrwn``, WaveFake's ``LJ001-0001_gen`` to ``LJ001-0001``,
VCTK's ``p225_001_mic1`` and ``_mic2`` to ``p225_001``; otherwise the file stem. When a row has no actor,
a VoxCeleb identity folder (``id00076``) or the speaker in a VCTK, LibriSpeech, LibriTTS or LJSpeech file
name is taken (`common.actor_from_name`), so one speaker's files never straddle folds.
"""

from __future__ import annotations

import csv as csv_module
import logging
from collections.abc import Sequence
from pathlib import Path

from avdetect.corpus.datasets.common import (
    AUDIO_EXTENSIONS,
    MEDIA_EXTENSIONS,
    actor_from_name,
    actor_from_parts,
    infer_groups,
    require_dir,
    require_files,
)
from avdetect.corpus.manifest import (
    FAKE,
    LABELS,
    REAL,
    ManifestRow,
    check_unique_paths,
    normalize_label,
    parse_segments,
    resolve_path,
)
from avdetect.errors import DatasetLayoutError, InputError, ManifestError

logger = logging.getLogger(__name__)

UNKNOWN = "UNKNOWN"
LABEL_FOLDERS = {"real": REAL, "fake": FAKE}


def prepare(root: Path, *, csv: Path | None = None, dataset: str | None = None) -> list[ManifestRow]:
    """Lists labelled media under ``root``, from its real/fake folders or from ``csv``.

    Args:
        root: the folder to scan; in CSV mode, the folder relative paths start from.
        csv: a user CSV with at least ``path,label`` columns.
        dataset: the ``dataset`` column of rows that do not give one; default ``root``'s name.

    Raises:
        DatasetLayoutError: no real/fake folder with media (folder mode), or listed files missing.
        ManifestError: the CSV lacks path or label, has an unknown label (with its line), bad
            fake_segments, or lists a path twice.
        InputError: ``csv`` does not exist.
    """
    root = require_dir(root)
    dataset = root.name if dataset is None else dataset
    rows = read_user_csv(Path(csv), root, dataset) if csv else scan_folders(root, dataset)
    check_unique_paths(rows, source=str(csv or root))
    require_files(rows, root=root)
    return rows


def folder_label(relative: Path) -> str | None:
    """REAL or FAKE from the nearest ``real``/``fake`` folder of a path, else None."""
    for part in reversed(relative.parts[:-1]):
        if part.lower() in LABEL_FOLDERS:
            return LABEL_FOLDERS[part.lower()]
    return None


def scan_folders(root: Path, dataset: str) -> list[ManifestRow]:
    """Rows for the media files under ``root`` that a real/fake folder labels."""
    media = sorted(p for p in root.rglob("*") if p.suffix.lower() in MEDIA_EXTENSIONS and p.is_file())
    labelled = [(p, folder_label(p.relative_to(root))) for p in media]
    labelled = [(p, label) for p, label in labelled if label is not None]
    if len(labelled) < len(media):
        logger.warning("skipped %d media file(s) outside real/ and fake/ folders in %s",
                       len(media) - len(labelled), root)
    if not labelled:
        raise DatasetLayoutError(
            f"no media inside a real/ or fake/ folder under {root} ({len(media)} media file(s) "
            "elsewhere); sort files into real/ and fake/ folders or pass a CSV with --csv"
        )
    groups = infer_groups([p for p, _ in labelled])
    return [_scanned_row(p, label, group, root, dataset) for (p, label), group in zip(labelled, groups)]


def _scanned_row(path: Path, label: str, group: str, root: Path, dataset: str) -> ManifestRow:
    # A REAL file is real in every modality it has; which modality of a FAKE file is fake is unknown,
    # unless the file only has audio.
    is_audio = path.suffix.lower() in AUDIO_EXTENSIONS
    return ManifestRow(
        path=path,
        label=label,
        group=group,
        video_label=REAL if label == REAL and not is_audio else None,
        audio_label=label if is_audio else None,
        actor=actor_from_parts(path.relative_to(root).parts[:-1]) or actor_from_name(path),
        dataset=dataset,
    )


def read_user_csv(path: Path, root: Path, dataset: str) -> list[ManifestRow]:
    """Rows of a user CSV (see the module docstring for what is kept and skipped)."""
    if not path.is_file():
        raise InputError(f"CSV not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv_module.DictReader(f)
        missing = [c for c in ("path", "label") if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{path}: missing column(s) {', '.join(missing)}; need at least path,label")
        records = [(reader.line_num, record) for record in reader]
    kept = _keep_labelled_media(records, path)
    paths = [resolve_path(record["path"], root) for _, record in kept]
    inferred = infer_groups(paths)
    return [
        _csv_row(record, p, group, dataset, path, line)
        for (line, record), p, group in zip(kept, paths, inferred)
    ]


def _keep_labelled_media(records: Sequence[tuple[int, dict]], source: Path) -> list[tuple[int, dict]]:
    kept, unknown, not_media = [], 0, 0
    for line, record in records:
        label = normalize_label(record["label"])
        if label == UNKNOWN:
            unknown += 1
        elif label not in LABELS:
            raise ManifestError(f"{source}, line {line}: unknown label {record['label']!r}; "
                                f"valid: {', '.join(LABELS)} (or {UNKNOWN}, which is skipped)")
        elif Path(record["path"] or "").suffix.lower() not in MEDIA_EXTENSIONS:
            not_media += 1
        else:
            kept.append((line, record))
    if unknown:
        logger.warning("skipped %d row(s) labelled %s in %s", unknown, UNKNOWN, source)
    if not_media:
        logger.warning("skipped %d row(s) that are neither video nor audio in %s", not_media, source)
    return kept


def _modality(value: str | None) -> str | None:
    label = normalize_label(value)
    return None if label == UNKNOWN else label


def _csv_row(record: dict, path: Path, group: str, dataset: str, source: Path, line: int) -> ManifestRow:
    text = {key: (value or "").strip() for key, value in record.items() if key is not None}
    try:
        return ManifestRow(
            path=path,
            label=normalize_label(text["label"]) or "",
            group=text.get("group") or group,
            video_label=_modality(text.get("video_label")),
            audio_label=_modality(text.get("audio_label")),
            actor=text.get("actor") or actor_from_parts(path.parts[:-1]) or actor_from_name(path),
            dataset=text.get("dataset") or dataset,
            split=text.get("split", ""),
            fake_segments=parse_segments(text.get("fake_segments")),
            generator=text.get("generator", ""),
            family=text.get("family", ""),
        )
    except ManifestError as err:
        raise ManifestError(f"{source}, line {line}: {err}") from None
