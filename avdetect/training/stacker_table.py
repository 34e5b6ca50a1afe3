"""The stacker's training table, kept with the model so that the fusion can be fitted again without the
branches' runs.

`fit-stacker` writes ``MODEL_DIR/stacker/table.npz``: every video's feature row, label, fold, modality
labels, source group and report breakdowns, which is all `fit_stacker` and `write_outputs` read. With it,
``avdetect fit-stacker --from-model MODEL_DIR -o NEW`` refits the stacker (another seed, balance or
decision band) and bundles it with MODEL_DIR's branches and scoring spec, in a minute instead of the
hours the branches' out-of-fold runs take.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from avdetect.errors import ModelFileError
from stacking.records import FeatureTable

TABLE_FILE = "table.npz"
VERSION = 1


def save_table(data, path: str | Path) -> Path:
    """Writes `data` (an `avdetect.training.stacker_data.TrainingData`) to `path` as a compressed npz."""
    path = Path(path)
    arrays = {
        "videos": data.table.videos.astype(str), "X": data.table.X.astype(np.float64),
        "names": np.array(data.table.names, dtype=str), "y": data.y, "folds": data.folds,
        "sources_of_rows": data.sources_of_rows.astype(str),
        "meta": np.array(json.dumps({"version": VERSION, "sources": data.sources, "extractors": list(data.extractors),
                                     "modality_labels": sorted(data.modality_labels),
                                     "groups": sorted(data.groups)})),
        **{f"modality_labels/{k}": v for k, v in data.modality_labels.items()},
        **{f"groups/{k}": v.astype(str) for k, v in data.groups.items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez_compressed(f, **arrays)
    return path


def load_table(path: str | Path):
    """The `TrainingData` saved by `save_table`.

    Raises:
        ModelFileError: no such file, not an npz of this format, or a newer version.
    """
    from avdetect.training.stacker_data import TrainingData

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no stacker training table (models fitted before it was kept have none; "
                             "fit the stacker from the runs with --oof and --folds)")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: not a stacker training table ({e})") from e
    if meta.get("version") != VERSION:
        raise ModelFileError(f"{path}: table version {meta.get('version')}, this avdetect reads {VERSION}")
    return TrainingData(
        table=FeatureTable(arrays["videos"], arrays["X"], tuple(arrays["names"].tolist())),
        y=arrays["y"].astype(np.int64), folds=arrays["folds"].astype(np.int64),
        modality_labels={k: arrays[f"modality_labels/{k}"].astype(np.int64) for k in meta["modality_labels"]},
        groups={k: arrays[f"groups/{k}"] for k in meta["groups"]}, sources_of_rows=arrays["sources_of_rows"],
        sources=meta["sources"], extractors=tuple(meta["extractors"]))
