"""The ``--fit`` stage of ``benchmarks/generalization.py``: one LightGBM per fold on feature blocks (and a
branch's per-file window statistics), written as an out-of-fold table that the generalization table reads."""
from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

def read_blocks(features_dir: Path, blocks: Sequence[str] | None = None) -> tuple[list[str], dict[str, np.ndarray]]:
    """Column names and path -> float64 row of the feature blocks in ``features_dir``, joined by path
    (a block a file lacks is NaN)."""
    files = sorted(features_dir.glob("*.csv"))
    files = [f for f in files if blocks is None or f.stem in blocks]
    names: list[str] = []
    values: dict[str, dict[str, float]] = defaultdict(dict)
    for path in files:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = [c for c in reader.fieldnames or [] if c != "path"]
            names += columns
            for record in reader:
                values[record["path"]].update({c: float(record[c] or "nan") for c in columns})
    return names, {key: np.array([v.get(c, np.nan) for c in names]) for key, v in values.items()}


BRANCH_STATS = ("mean", "median", "max", "min", "q25", "q75", "std", "n")


def branch_statistics(path: Path) -> tuple[list[str], dict[str, np.ndarray]]:
    """Column names and path -> per-file statistics (`BRANCH_STATS`) of a branch's out-of-fold window scores."""
    windows: dict[str, list[float]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as f:
        for record in csv.DictReader(f):
            windows[record["path"]].append(float(record["probability"]))
    stats = {}
    for key, values in windows.items():
        p = np.asarray(values)
        stats[key] = np.array([p.mean(), np.median(p), p.max(), p.min(), *np.quantile(p, [0.25, 0.75]), p.std(),
                               len(p)])
    return [f"branch_{name}" for name in BRANCH_STATS], stats


def join_blocks(*blocks: tuple[list[str], dict[str, np.ndarray]]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Blocks of `read_blocks` or `branch_statistics` side by side, joined by path (NaN where one lacks it)."""
    names = [name for block_names, _ in blocks for name in block_names]
    keys = set().union(*(rows for _, rows in blocks))
    rows = {key: np.concatenate([values.get(key, np.full(len(block_names), np.nan)) for block_names, values in blocks])
            for key in keys}
    return names, rows


def generator_weights(y: np.ndarray, generators: np.ndarray) -> np.ndarray:
    """Sample weights that give every generator's fakes the same total weight and the reals as much as all
    fakes together, so that the few large generators do not set the decision on their own."""
    weights = np.ones(len(y))
    fake_names = np.unique(generators[y == 1])
    for name in fake_names:
        weights[(y == 1) & (generators == name)] = 1.0 / np.sum((y == 1) & (generators == name))
    weights[y == 0] = len(fake_names) / max(1, np.sum(y == 0))
    return weights * len(y) / weights.sum()


def fit_oof(rows: Sequence, folds: np.ndarray, features: dict[str, np.ndarray], *, modality: str,
            hold_out: str = "generator", seed: int = 0) -> dict[str, tuple[int, int, float]]:
    """path -> (fold, label, out-of-fold P(fake)) from one LightGBM per fold, weighted by `generator_weights`."""
    from generalization import modality_label
    from lightgbm import LGBMClassifier

    kept = [(str(r.path), int(f), int(modality_label(r, modality) == "FAKE"), getattr(r, hold_out))
            for r, f in zip(rows, folds) if modality_label(r, modality) and str(r.path) in features]
    paths, fold, y, generators = (np.array(v) for v in zip(*kept))
    x = np.stack([features[p] for p in paths])
    oof = np.full(len(y), np.nan)
    for k in np.unique(fold):
        train = fold != k
        model = LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=15, min_child_samples=10,
                               subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed,
                               n_jobs=1, verbose=-1)
        model.fit(x[train], y[train], sample_weight=generator_weights(y[train], generators[train]))
        oof[~train] = model.predict_proba(x[~train])[:, 1]
    return {p: (int(f), int(label), float(q)) for p, f, label, q in zip(paths, fold, y, oof)}


def write_oof_table(path: Path, oof: dict[str, tuple[int, int, float]]) -> None:
    """Writes ``path, fold, label, probability`` (label 1 = fake)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "fold", "label", "probability"])
        writer.writerows([key, fold, label, f"{p:.6g}"] for key, (fold, label, p) in oof.items())
