"""FakeAVCeleb (Khalid et al., NeurIPS 2021 Datasets track) -> manifest rows.

Layout: four category folders under ROOT, ``ROOT/FakeAVCeleb`` or ``ROOT/FakeAVCeleb_v1.2/FakeAVCeleb``,
``RealVideo-RealAudio``, ``RealVideo-FakeAudio``, ``FakeVideo-RealAudio`` and ``FakeVideo-FakeAudio``,
each ``<race>/<gender>/<id>/<file>.mp4``. The category gives the per-modality labels. Fakes are stored
in the folder of their target identity, which is their group (``id00200``); a fake whose file name
names another identity (``00002_id00076_wav2lip.mp4``: that person's face or voice went into it) takes
that one as its actor, so `avdetect folds` keeps both people on one side of every split.
"""

from __future__ import annotations

from pathlib import Path

from avdetect.corpus.datasets.common import actor_from_parts, label_of, require_dir, require_files
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import DatasetLayoutError

DATASET = "fakeavceleb"
# Category folder -> (video is fake, audio is fake).
CATEGORIES = {
    "RealVideo-RealAudio": (False, False),
    "RealVideo-FakeAudio": (False, True),
    "FakeVideo-RealAudio": (True, False),
    "FakeVideo-FakeAudio": (True, True),
}
_CANDIDATE_BASES = (".", "FakeAVCeleb", "FakeAVCeleb_v1.2", "FakeAVCeleb_v1.2/FakeAVCeleb")


def prepare(root: Path) -> list[ManifestRow]:
    """Lists every .mp4 of the four FakeAVCeleb categories under ``root``.

    Raises:
        DatasetLayoutError: none of the category folders is found, or a video is not inside an
            identity folder.
    """
    root = require_dir(root)
    base = find_base(root)
    rows = [
        _row(path, category, base)
        for category in CATEGORIES
        if (base / category).is_dir()
        for path in sorted((base / category).rglob("*.mp4"))
    ]
    require_files(rows, root=root)
    return rows


def find_base(root: Path) -> Path:
    """The folder under ``root`` that holds the category folders."""
    for relative in _CANDIDATE_BASES:
        base = root / relative
        if any((base / category).is_dir() for category in CATEGORIES):
            return base
    raise DatasetLayoutError(
        f"no FakeAVCeleb category folder ({', '.join(CATEGORIES)}) in {root} or {root / 'FakeAVCeleb'}"
    )


def _row(path: Path, category: str, base: Path) -> ManifestRow:
    video_fake, audio_fake = CATEGORIES[category]
    relative = path.relative_to(base / category).parts
    identity = actor_from_parts(relative[:-1]) or (relative[-2] if len(relative) > 1 else None)
    if identity is None:
        raise DatasetLayoutError(f"{path}: expected {category}/<race>/<gender>/<id>/<file>.mp4")
    return ManifestRow(
        path=path,
        label=label_of(video_fake or audio_fake),
        group=identity,
        video_label=label_of(video_fake),
        audio_label=label_of(audio_fake),
        actor=_other_identity(path.stem, identity) or identity,
        dataset=DATASET,
    )


def _other_identity(stem: str, identity: str) -> str | None:
    """The first identity id in a file name (``00002_id00076_wav2lip``) other than `identity`, or None."""
    return actor_from_parts([part for part in stem.split("_") if part != identity])
