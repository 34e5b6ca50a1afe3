"""The `voice_embed` block's file, written from the voices `train-voice-embed` has already encoded.

`video-features --extractors voice_embed --models MODELS --folds F` measures every video by running the speaker
encoder on it again; `train-voice-embed` has just run it on the same rows and kept what it found
(`MODELS/encodings.npz`: the features the head reads and the partials' consistency, and which rows have no
speech). This writes the same file from that store and the heads: the same rows in the manifest's order, the
same columns and the same formatting, each row by the head that never trained on it.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from avdetect.corpus.cache_index import cached_paths
from avdetect.corpus.manifest import ManifestRow
from avdetect.features.voice_embed import CHECKPOINT, NAMES, load_head
from avdetect.training.video_features import NO_FOLD, NOT_CACHED, UNREADABLE, FeatureRun
from avdetect.training.voice_embed import StoredVoices

BLOCK = "voice_embed"  # the extractor whose file this writes (`avdetect.features.registry`)


def write_block(rows: Sequence[ManifestRow], voices: StoredVoices, cache_dir: Path, models: Path, out_dir: Path,
                *, fold_of: Mapping[str, int] | None = None) -> FeatureRun:
    """Writes OUT_DIR/voice_embed.csv as `write_video_features` would with the heads in ``models``: a row of
    fold k by MODELS/fold<k>'s head (with ``fold_of``), or every row by MODELS' own; a row without speech all
    NaN. Rows in no fold, not in the cache or not read from it (left out of ``voices``) are left out, as
    there.

    Raises:
        ModelFileError: a head is missing or corrupt.
    """
    keys = cached_paths(cache_dir)
    heads = ({None: load_head(models / CHECKPOINT)} if fold_of is None
             else {k: load_head(models / f"fold{k}" / CHECKPOINT) for k in sorted(set(fold_of.values()))})
    left_out: dict[str, list[str]] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f".{BLOCK}.csv.partial"
    written = 0
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", *NAMES])
        for row in rows:
            path = str(row.path)
            fold = None if fold_of is None else fold_of.get(path, -1)
            reason = (NO_FOLD if fold == -1 else NOT_CACHED if path not in keys
                      else None if path in voices.features or path in voices.silent else UNREADABLE)
            if reason:
                left_out.setdefault(reason, []).append(path)
                continue
            values = (np.full(len(NAMES), np.nan) if path in voices.silent else
                      np.array([heads[fold].logit(voices.features[path]), *voices.consistency[path]], np.float64))
            writer.writerow([path, *(f"{v:.6g}" for v in values)])
            written += 1
    partial.replace(out_dir / f"{BLOCK}.csv")
    return FeatureRun({BLOCK: written}, left_out)
