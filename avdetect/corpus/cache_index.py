"""Finding a video's cached `Perception` through the cache's ``index.csv`` (see `avdetect.corpus.cache`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from avdetect.corpus.cache import load_perception, read_index
from avdetect.errors import CacheError
from avdetect.records import Perception


def cached_paths(cache_dir: str | os.PathLike) -> dict[str, str]:
    """Manifest path -> cache key of every video extracted without error (latest row wins)."""
    return {row["path"]: row["key"] for row in read_index(cache_dir) if row["status"] == "ok"}


def cache_loader(cache_dir: str | os.PathLike) -> Callable[[Path], Perception]:
    """path -> the video's cached `Perception`, found through the cache's index.csv (see `cached_paths`).

    Raises (when called):
        CacheError: the video was not extracted, failed, or its file is unreadable.
    """
    keys = cached_paths(cache_dir)

    def load(path: Path) -> Perception:
        key = keys.get(str(path))
        if key is None:
            raise CacheError(f"{path}: not in {cache_dir} (or its extraction failed); run `avdetect extract`")
        return load_perception(Path(cache_dir) / f"{key}.npz")

    return load
