"""AV-Deepfake1M (Cai et al., ACM MM 2024) and LAV-DF (Cai et al., DICTA 2022) -> manifest rows.

Both ship a metadata JSON: a list of items such as ::

    {"file": "train/id00012/abc/000.mp4", "split": "train", "modify_video": true,
     "modify_audio": false, "fake_segments": [[1.2, 1.8]], "original": "train/id00012/xyz/000.mp4"}

AV-Deepfake1M has one file per split (``train_metadata.json``, ``val_metadata.json``; its items may
say ``modify_type`` = real / visual_modified / audio_modified / both_modified instead of the two
booleans); LAV-DF has one ``metadata.json`` whose segments are under ``fake_periods``. ``file`` is read
relative to ROOT, or to ``ROOT/<split>`` when that is where the file is. A fake's group is its
original (a real's is itself); the actor is the ``idXXXXX`` folder in the path.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from avdetect.corpus.datasets.common import actor_from_parts, label_of, load_json, require_dir, require_files
from avdetect.corpus.manifest import ManifestRow, segments_from
from avdetect.errors import DatasetLayoutError, ManifestError

DATASET = "avdeepfake1m"
# modify_type (AV-Deepfake1M) -> (video is fake, audio is fake)
MODIFY_TYPES = {
    "real": (False, False),
    "visual_modified": (True, False),
    "audio_modified": (False, True),
    "both_modified": (True, True),
}


def prepare(root: Path, *, metadata: Path | None = None) -> list[ManifestRow]:
    """Lists every item of the metadata file(s) under ``root``.

    Args:
        root: the dataset folder.
        metadata: one metadata JSON to read instead of looking for ``metadata.json`` and
            ``*_metadata.json`` in ``root``.

    Raises:
        DatasetLayoutError: no metadata file, malformed items, or listed files that are missing.
        ManifestError: invalid fake segments.
    """
    root = require_dir(root)
    files = [Path(metadata)] if metadata else metadata_files(root)
    rows = [row for file in files for row in _file_rows(root, file)]
    require_files(rows, root=root)
    return rows


def metadata_files(root: Path) -> list[Path]:
    """``ROOT/metadata.json`` (LAV-DF) and ``ROOT/*_metadata.json`` (AV-Deepfake1M)."""
    files = sorted(root.glob("*_metadata.json"))
    if (root / "metadata.json").is_file():
        files.insert(0, root / "metadata.json")
    if not files:
        raise DatasetLayoutError(
            f"no metadata file in {root}; expected metadata.json (LAV-DF) or "
            "train_metadata.json / val_metadata.json (AV-Deepfake1M)"
        )
    return files


def _file_rows(root: Path, file: Path) -> list[ManifestRow]:
    items = load_json(file)
    if not isinstance(items, list):
        raise DatasetLayoutError(f"{file}: expected a list of items")
    rows = []
    for i, item in enumerate(items):
        try:
            rows.append(_row(root, item))
        except (ManifestError, DatasetLayoutError) as err:
            raise type(err)(f"{file}, item {i}: {err}") from None
    return rows


def modalities(item: dict) -> tuple[bool, bool]:
    """(video is fake, audio is fake) from ``modify_video``/``modify_audio`` or ``modify_type``."""
    if "modify_video" in item or "modify_audio" in item:
        return bool(item.get("modify_video")), bool(item.get("modify_audio"))
    kind = item.get("modify_type")
    if kind not in MODIFY_TYPES:
        raise DatasetLayoutError(
            f"item has neither modify_video/modify_audio nor a known modify_type ({kind!r}); "
            f"valid modify_type: {', '.join(MODIFY_TYPES)}"
        )
    return MODIFY_TYPES[kind]


def _row(root: Path, item: object) -> ManifestRow:
    if not isinstance(item, dict) or not isinstance(item.get("file"), str):
        raise DatasetLayoutError(f"expected an object with a 'file' string, got {item!r:.80}")
    video_fake, audio_fake = modalities(item)
    split = str(item.get("split") or "")
    name = PurePosixPath(item["file"])
    original = PurePosixPath(item.get("original") or item["file"])
    return ManifestRow(
        path=locate(root, name, split),
        label=label_of(video_fake or audio_fake),
        group=original.with_suffix("").as_posix(),
        video_label=label_of(video_fake),
        audio_label=label_of(audio_fake),
        actor=actor_from_parts(name.parts[:-1]),
        dataset=DATASET,
        split=split,
        fake_segments=segments_from(item.get("fake_segments", item.get("fake_periods")) or []),
    )


def locate(root: Path, name: PurePosixPath, split: str) -> Path:
    """``ROOT/file``, or ``ROOT/<split>/file`` when only that one exists."""
    direct = root / name
    under_split = root / split / name
    return under_split if split and not direct.exists() and under_split.exists() else direct
