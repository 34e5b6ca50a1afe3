"""Per-video feature blocks of a manifest's cached videos, one CSV per extractor, for the stacker.

    RUNS/features/<extractor>.csv    path, then the extractor's columns (`avdetect.features.registry`)

`fit-stacker` reads every file there as further columns; the bundle's spec then names those extractors,
and the Detector computes them the same way on each input it scores.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avdetect.corpus.cache import load_perception
from avdetect.corpus.cache_index import cached_paths
from avdetect.corpus.manifest import ManifestRow
from avdetect.errors import AvdetectError
from avdetect.features.registry import get_extractor

log = logging.getLogger(__name__)

FEATURES_DIR = "features"  # under the runs folder `fit-stacker --oof` reads
NOT_CACHED, UNREADABLE, NO_FOLD = "not in the cache", "cache file unreadable", "in no fold"
HINTS = {  # what to do about the rows left out for each reason
    NOT_CACHED: "; run `avdetect extract` on this manifest with the same --cache (relative paths are read "
                "from the manifest's own folder)",
    NO_FOLD: "; the --folds file was made for another manifest",
}


@dataclass(frozen=True)
class FeatureRun:
    """What `write_video_features` wrote, and the rows it left out by reason."""

    written: dict[str, int]  # extractor -> rows in its CSV
    left_out: dict[str, list[str]] = field(default_factory=dict)  # reason (NOT_CACHED, ...) -> paths


def write_video_features(rows: Sequence[ManifestRow], cache_dir: Path, extractors: Sequence[str], out_dir: Path,
                         *, models: Path | None = None, fold_of: Mapping[str, int] | None = None,
                         progress: Callable[[int], None] | None = None) -> FeatureRun:
    """Writes OUT_DIR/<extractor>.csv for every extractor; returns how many videos each file holds and
    which rows were left out, and why. Each file appears under its name when all its rows are written:
    a block cut short would leave rows missing, and a missing row can stand for a label in the stacker.

    Blocks with weights (the learnt sync net) read them from the `models` folder (default the package's
    model). With `fold_of` (path -> fold) the rows of fold k read them from `models`/fold<k> instead: each
    video is measured by the model that never trained on it (out-of-fold blocks for the stacker); rows
    that no fold places are left out.

    A video that is not in the cache is left out; one whose cache file cannot be read is left out with a
    warning, so one broken file does not stop the run; both are named in the result's ``left_out``.

    Raises:
        ValueError: an unknown extractor name (listing the valid ones).
    """
    blocks = {name: get_extractor(name) for name in extractors}
    keys = cached_paths(cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = {name: out_dir / f".{name}.csv.partial" for name in blocks}  # renamed once every row is in
    files = {name: path.open("w", newline="", encoding="utf-8") for name, path in partial.items()}
    writers = {name: csv.writer(f) for name, f in files.items()}
    counts = dict.fromkeys(blocks, 0)
    left_out: dict[str, list[str]] = {}
    try:
        for name, extractor in blocks.items():
            writers[name].writerow(["path", *extractor.names])
        for i, row in enumerate(rows):
            key = keys.get(str(row.path))
            where = models if fold_of is None else _fold_models(models, fold_of, row)
            if fold_of is not None and where is None:
                left_out.setdefault(NO_FOLD, []).append(str(row.path))
                continue
            if key is None:
                left_out.setdefault(NOT_CACHED, []).append(str(row.path))
                continue
            try:
                seen = load_perception(cache_dir / f"{key}.npz")
            except AvdetectError as err:
                log.warning("%s: %s; left out", row.path, err)
                left_out.setdefault(UNREADABLE, []).append(str(row.path))
                continue
            for name, extractor in blocks.items():
                writers[name].writerow([str(row.path), *(f"{v:.6g}" for v in extractor(seen, where))])
                counts[name] += 1
            if progress:
                progress(i + 1)
    finally:
        for f in files.values():
            f.close()
    for name, path in partial.items():
        path.replace(out_dir / f"{name}.csv")
    return FeatureRun(counts, left_out)


def _fold_models(models: Path | None, fold_of: Mapping[str, int], row: ManifestRow) -> Path | None:
    if models is None:
        raise ValueError("out-of-fold blocks need the folder of the per-fold models")
    fold = fold_of.get(str(row.path))
    return None if fold is None else models / f"fold{fold}"
