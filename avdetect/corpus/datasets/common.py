"""Helpers shared by the dataset adapters: connected components, name-based groups, file checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components as _scipy_components

from avdetect.corpus.manifest import FAKE, REAL, ManifestRow
from avdetect.errors import DatasetLayoutError

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v",
                              ".flv", ".wmv", ".ts"})
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".m4a", ".ogg", ".aac", ".opus"})
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS

_FFPP_PAIR = re.compile(r"^(\d+)_(\d+)$")  # FaceForensics++ fake: <target>_<source>, e.g. 519_515
_REAL_FAKE_PAIR = re.compile(r"^(.+)[-_](?:real|fake)$", re.IGNORECASE)  # <x>-real / <x>-fake
_DFDC_CROP = re.compile(r"^\d+_([a-z]{10})\.mp4_\d+_\d+$")  # 0_aaqaifqrwn.mp4_0_0 -> aaqaifqrwn
_GENERATED = re.compile(r"^(.+)[-_]gen$")  # WaveFake: LJ001-0001_gen is a vocoder's copy of LJ001-0001
_MICROPHONE = re.compile(r"^(.+)_mic\d$")  # VCTK 0.92: p225_001_mic1 and _mic2 are one recording
_ACTOR_ID = re.compile(r"^id\d+$")  # VoxCeleb-style identity folder, e.g. id00076
# Speaker ids that corpora put in their file names: (pattern of the group key, actor name of a match)
_SPEAKER_NAMES = (
    (re.compile(r"^(p\d{3})_\d{3}$"), "vctk-{}"),  # VCTK p225_001
    (re.compile(r"^(\d{1,4})-\d{1,6}-\d{4}$"), "libri-spk{}"),  # LibriSpeech speaker-chapter-utterance
    (re.compile(r"^(\d{1,4})_\d{1,6}_\d{6}_\d{6}$"), "libri-spk{}"),  # LibriTTS (LibriSpeech's speakers)
    (re.compile(r"^LJ\d{3}-\d{4}$"), "ljspeech"),  # LJSpeech: one reader
)


def connected_components(links: Iterable[Sequence[str]]) -> dict[str, str]:
    """Unites keys that appear in the same link, transitively.

    Args:
        links: each item lists keys that belong together (one key alone is allowed).

    Returns:
        Every key mapped to its component's name: the smallest key of the component.
    """
    links = [list(link) for link in links]
    keys = sorted({key for link in links for key in link})
    index = {key: i for i, key in enumerate(keys)}
    rows = [index[link[0]] for link in links for _ in link[1:]]
    cols = [index[key] for link in links for key in link[1:]]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(keys), len(keys)))
    _, labels = _scipy_components(graph, directed=False)
    names: dict[int, str] = {}
    for key, label in zip(keys, labels):  # keys are sorted, so the first seen is the smallest
        names.setdefault(int(label), key)
    return {key: names[int(label)] for key, label in zip(keys, labels)}


def name_keys(path: Path) -> list[str]:
    """Group keys a file name implies when nothing else says where it comes from.

    FF++-style ``519_515`` gives both ids (target and source), ``<x>-real`` / ``<x>-fake`` give ``x``,
    DFDC face-crop videos ``0_aaqaifqrwn.mp4_0_0.mp4`` give the DFDC video ``aaqaifqrwn``, WaveFake's
    ``<x>_gen`` and VCTK's ``<x>_mic1`` give ``x``; anything else gives its stem.
    """
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    for pattern in (_FFPP_PAIR, _DFDC_CROP, _REAL_FAKE_PAIR, _GENERATED, _MICROPHONE):
        match = pattern.match(stem)
        if match:
            return list(match.groups())
    return [stem]


def infer_groups(paths: Sequence[Path]) -> list[str]:
    """Names a group for each path from file names alone, uniting shared ids across files.

    ``519_515.mp4``, ``519.mp4`` and ``515.mp4`` all land in group ``515``. Identical stems in
    different folders share a group too: that can merge unrelated files, which costs fold balance but
    never leaks a source video across folds.
    """
    keys = [name_keys(path) for path in paths]
    names = connected_components(keys)
    return [names[k[0]] for k in keys]


def actor_from_parts(parts: Sequence[str]) -> str | None:
    """The first VoxCeleb-style identity folder (``id00076``) among path parts, or None."""
    return next((part for part in parts if _ACTOR_ID.match(part)), None)


def actor_from_name(path: Path) -> str | None:
    """The speaker a corpus's file naming gives, named as the shared data's MANIFEST names them, or None:
    VCTK ``p225_001_mic1`` -> ``vctk-p225``; LibriSpeech ``103-1240-0000`` and LibriTTS
    ``103_1241_000000_000001`` -> ``libri-spk103``; LJSpeech ``LJ001-0001`` (and its copies) -> ``ljspeech``."""
    key = name_keys(path)[0]
    for pattern, actor in _SPEAKER_NAMES:
        match = pattern.match(key)
        if match:
            return actor.format(*match.groups())
    return None


def require_files(rows: Sequence[ManifestRow], *, root: Path) -> None:
    """Raises DatasetLayoutError with the count and first few rows whose file does not exist."""
    missing = [str(row.path) for row in rows if not row.path.is_file()]
    if missing:
        raise DatasetLayoutError(
            f"{len(missing)} file(s) listed for {root} do not exist, e.g. {missing[:3]}; "
            "check that the dataset is fully downloaded and extracted"
        )


def require_dir(root: Path) -> Path:
    """Returns ``root`` as an absolute path, or raises DatasetLayoutError when it is not a folder."""
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise DatasetLayoutError(f"dataset root is not a folder: {root}")
    return root


def load_json(path: Path) -> object:
    """Reads a metadata JSON file, raising DatasetLayoutError when it is missing or malformed."""
    if not path.is_file():
        raise DatasetLayoutError(f"metadata file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DatasetLayoutError(f"{path} is not valid JSON: {err}") from None


def label_of(is_fake: bool) -> str:
    """FAKE or REAL."""
    return FAKE if is_fake else REAL
