"""FaceForensics++ (Rössler et al., ICCV 2019) -> manifest rows.

Official layout (from the download script)::

    ROOT/original_sequences/youtube/<c23|c40|raw>/videos/519.mp4
    ROOT/manipulated_sequences/<method>/<c23|c40|raw>/videos/519_515.mp4

and the flat layout of many mirrors: ``ROOT/youtube/519.mp4``, ``ROOT/<method>/519_515.mp4``.
A fake ``519_515`` puts material of video 515 into video 519, so 519, 515 and every fake made from
either share a group: groups are connected components over video ids. The DeepFakeDetection subset
(``actors`` originals, ``01_02__scene__XXXX.mp4`` fakes) is read the same way, its ids kept apart from
the YouTube ids. The videos' audio is never manipulated nor labelled, so ``audio_label`` stays empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from avdetect.corpus.datasets.common import connected_components, label_of, require_dir, require_files
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import DatasetLayoutError

DATASET = "ffpp"
METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter", "DeepFakeDetection")
ORIGINALS = ("youtube", "actors")
COMPRESSIONS = ("raw", "c23", "c40")


@dataclass(frozen=True)
class _Video:
    path: Path
    is_fake: bool
    source: str  # "youtube", "actors" or a manipulation method


def prepare(root: Path, *, compression: str | None = None) -> list[ManifestRow]:
    """Lists FF++ originals and fakes under ``root`` (official or flat layout).

    Args:
        root: the dataset folder.
        compression: keep only this compression (``raw``, ``c23`` or ``c40``) of the official
            layout; None keeps all found.

    Raises:
        DatasetLayoutError: neither layout is found, or no video is.
        ValueError: unknown ``compression``.
    """
    root = require_dir(root)
    if compression is not None and compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r}; valid: {', '.join(COMPRESSIONS)}")
    videos = official_videos(root, compression) + flat_videos(root)
    if not videos:
        raise DatasetLayoutError(
            f"no FaceForensics++ videos in {root}; expected original_sequences/youtube/<comp>/videos/"
            "*.mp4 and manipulated_sequences/<method>/<comp>/videos/*.mp4, or youtube/*.mp4 and "
            "<method>/*.mp4"
        )
    rows = _rows(videos)
    require_files(rows, root=root)
    return rows


def official_videos(root: Path, compression: str | None) -> list[_Video]:
    """Videos of the official layout; mask videos are left out."""
    comps = [compression] if compression else list(COMPRESSIONS)
    videos = []
    for comp in comps:
        for source in ORIGINALS:
            folder = root / "original_sequences" / source / comp / "videos"
            videos += [_Video(p, False, source) for p in sorted(folder.glob("*.mp4"))]
        for method in METHODS:
            folder = root / "manipulated_sequences" / method / comp / "videos"
            videos += [_Video(p, True, method) for p in sorted(folder.glob("*.mp4"))]
    return videos


def flat_videos(root: Path) -> list[_Video]:
    """Videos of the flat layout ``ROOT/youtube/*.mp4``, ``ROOT/<method>/*.mp4``."""
    videos = []
    for source in ORIGINALS:
        videos += [_Video(p, False, source) for p in sorted((root / source).glob("*.mp4"))]
    for method in METHODS:
        videos += [_Video(p, True, method) for p in sorted((root / method).glob("*.mp4"))]
    return videos


def video_ids(video: _Video) -> list[str]:
    """Ids a video is made of: ``519`` -> [519]; ``519_515`` -> [519, 515]; DFD ``01_02__x`` -> [01, 02].

    DeepFakeDetection ids are actors, not YouTube videos, so they get a ``dfd-`` prefix.
    """
    ids = video.path.stem.split("__")[0].split("_")
    dfd = video.source in ("actors", "DeepFakeDetection")
    return [f"dfd-{i}" if dfd else i for i in ids]


def _rows(videos: list[_Video]) -> list[ManifestRow]:
    ids = [video_ids(video) for video in videos]
    groups = connected_components(ids)
    return [
        ManifestRow(
            path=video.path,
            label=label_of(video.is_fake),
            group=groups[video_id[0]],
            video_label=label_of(video.is_fake),
            dataset=DATASET,
        )
        for video, video_id in zip(videos, ids)
    ]
