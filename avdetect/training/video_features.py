"""Per-video feature blocks of a manifest's cached videos, one CSV per extractor, for the stacker.

    RUNS/features/<extractor>.csv    path, then the extractor's columns (`avdetect.features.registry`)

`fit-stacker` reads every file there as further columns; the bundle's spec then names those extractors,
and the Detector computes them the same way on each input it scores.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from avdetect.corpus.cache import load_perception
from avdetect.corpus.cache_index import cached_paths
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import AvdetectError
from avdetect.features.registry import get_extractor

log = logging.getLogger(__name__)

FEATURES_DIR = "features"  # under the runs folder `fit-stacker --oof` reads


def write_video_features(rows: Sequence[ManifestRow], cache_dir: Path, extractors: Sequence[str], out_dir: Path,
                         *, progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Writes OUT_DIR/<extractor>.csv for every extractor; returns how many videos each file holds.

    A video that is not in the cache is left out (logged); one whose cache file cannot be read is left
    out with a warning, so one broken file does not stop the run.

    Raises:
        ValueError: an unknown extractor name (listing the valid ones).
    """
    blocks = {name: get_extractor(name) for name in extractors}
    keys = cached_paths(cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {name: (out_dir / f"{name}.csv").open("w", newline="", encoding="utf-8") for name in blocks}
    writers = {name: csv.writer(f) for name, f in files.items()}
    counts = dict.fromkeys(blocks, 0)
    try:
        for name, extractor in blocks.items():
            writers[name].writerow(["path", *extractor.names])
        for i, row in enumerate(rows):
            key = keys.get(str(row.path))
            if key is None:
                log.info("%s: not in the cache, left out", row.path)
                continue
            try:
                seen = load_perception(cache_dir / f"{key}.npz")
            except AvdetectError as err:
                log.warning("%s: %s; left out", row.path, err)
                continue
            for name, extractor in blocks.items():
                writers[name].writerow([str(row.path), *(f"{v:.6g}" for v in extractor(seen))])
                counts[name] += 1
            if progress:
                progress(i + 1)
    finally:
        for f in files.values():
            f.close()
    return counts
