"""Leak-proof cross-validation folds, written once to a file and reused by every branch.

A fake shares its source video's face, voice and background; the same actor appears in many source
videos. Folds that split either let a model recognise people instead of manipulations, which inflates
out-of-fold scores (the gap between DFDC's public and private leaderboards). So rows are first merged
into connected components over their ``group`` and ``actor`` (union-find), and scikit-learn's
`StratifiedGroupKFold` then deals whole components to folds, balancing REAL/FAKE counts.

Holding out generators (``hold_out="generator"`` or ``"family"``) measures transfer: every fake of one
generator lands in one fold, so each fold's model never saw the generators it is scored on. The
generator of each fake joins the same union-find, so a vocoder copy that shares its source's group with
another generator's copy holds both generators out together (`merged_holdouts` names such merges).
Components are then dealt greedily, largest first: each fake-holding one to the fold whose fuller class
(as a share of all fakes or of all reals) stays the smallest once it is added, so a component that brings
many reals (a vocoder's copies come with their real sources) does not land where the reals already are;
then the real-only ones to the fold with the fewest reals, so every fold has both classes when it can.

The folds file is a CSV ``path,group,fold``: ``group`` is the component (the smallest group, actor or
generator key in it, prefixed ``group:``, ``actor:``, ``generator:`` or ``family:``); paths follow the
manifest convention (relative to the file's folder when under it, else absolute).
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from avdetect.corpus.datasets.common import connected_components
from avdetect.corpus.manifest import FAKE, ManifestRow, portable_path, resolve_path
from avdetect.errors import InputError, ManifestError

logger = logging.getLogger(__name__)

FOLD_COLUMNS = ("path", "group", "fold")
HOLD_OUT = ("generator", "family")  # manifest columns whose values `assign_folds` can hold out whole


@dataclass(frozen=True)
class FoldRow:
    """One line of a folds file."""

    path: Path  # absolute after `read_folds`
    group: str  # the leak-proof component: groups and actors merged
    fold: int  # 0 .. n_splits - 1; the row is validation data in this fold


def components(rows: Sequence[ManifestRow], hold_out: str | None = None) -> list[str]:
    """The connected component of each row when rows sharing a group, an actor or (for fakes, with
    ``hold_out``) a generator or family are united."""
    links = [_link(row, hold_out) for row in rows]
    names = connected_components(links)
    return [names[link[0]] for link in links]


def _link(row: ManifestRow, hold_out: str | None) -> list[str]:
    keys = [f"group:{row.group}"] + ([f"actor:{row.actor}"] if row.actor else [])
    value = getattr(row, hold_out) if hold_out and row.label == FAKE else ""
    return keys + ([f"{hold_out}:{value}"] if value else [])


def merged_holdouts(rows: Sequence[ManifestRow], hold_out: str) -> list[tuple[str, ...]]:
    """The generators (or families) that share a component and so are held out together, sorted."""
    held: dict[str, set[str]] = {}
    for row, comp in zip(rows, components(rows, hold_out)):
        if row.label == FAKE and getattr(row, hold_out):
            held.setdefault(comp, set()).add(getattr(row, hold_out))
    return sorted(tuple(sorted(names)) for names in held.values() if len(names) > 1)


def assign_folds(rows: Sequence[ManifestRow], n_splits: int = 5, seed: int = 0, *,
                 hold_out: str | None = None) -> np.ndarray:
    """Deals rows to folds so that no group and no actor (and, with ``hold_out``, no generator) straddles
    two folds.

    Args:
        rows: the manifest rows.
        n_splits: number of folds, at least 2.
        seed: shuffles the order in which components are dealt.
        hold_out: None for label-stratified folds, or a column of `HOLD_OUT` whose values (of fakes)
            each stay in one fold (see the module docstring).

    Returns:
        int64 (len(rows),) the fold id of each row, in 0 .. n_splits - 1.

    Raises:
        ManifestError: fewer components (groups merged through shared actors) than folds, or with
            ``hold_out`` fewer fake-holding components than folds.
        ValueError: ``n_splits`` below 2, or an unknown ``hold_out``.
    """
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    if hold_out is not None:
        return hold_out_folds(rows, n_splits, seed, hold_out)
    comps = components(rows)
    _check_enough(rows, comps, n_splits)
    labels = np.array([row.label == FAKE for row in rows], dtype=np.int64)
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    folds = np.full(len(rows), -1, dtype=np.int64)
    with warnings.catch_warnings():
        # Too few fakes for every fold is reported by _check_enough; sklearn's copy adds nothing.
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for fold, (_, test) in enumerate(splitter.split(np.zeros(len(rows)), labels, groups=comps)):
            folds[test] = fold
    return spread_fakes(folds, comps, labels.astype(bool), n_splits)


def spread_fakes(folds: np.ndarray, comps: Sequence[str], fakes: np.ndarray, n_splits: int) -> np.ndarray:
    """Moves whole fake-holding components so that every fold gets fakes, when there are enough.

    StratifiedGroupKFold deals greedily and, with few large components, can leave a fold without a
    single fake, where no metric of the fake class can be computed. Each move takes the smallest
    fake-holding component of the fold with the most of them (so that fold keeps fakes).
    """
    folds = folds.copy()
    comps = np.asarray(comps, dtype=object)
    sizes = {c: int(n) for c, n in zip(*np.unique(comps, return_counts=True))}
    for _ in range(n_splits):
        holders = [sorted(set(comps[(folds == f) & fakes]), key=lambda c: (sizes[c], c))
                   for f in range(n_splits)]
        empty = [f for f in range(n_splits) if not holders[f]]
        donor = max(range(n_splits), key=lambda f: len(holders[f]))
        if not empty or len(holders[donor]) < 2:
            break
        folds[comps == holders[donor][0]] = empty[0]
    return folds


def hold_out_folds(rows: Sequence[ManifestRow], n_splits: int, seed: int, hold_out: str) -> np.ndarray:
    """Folds in which every generator (or family) of `HOLD_OUT` sits whole in one fold; see `assign_folds`."""
    if hold_out not in HOLD_OUT:
        raise ValueError(f"unknown hold_out {hold_out!r}; valid: {', '.join(HOLD_OUT)}")
    comps = components(rows, hold_out)
    _check_enough(rows, comps, n_splits)
    names, inverse = np.unique(np.asarray(comps, dtype=object), return_inverse=True)
    fakes = np.array([row.label == FAKE for row in rows], dtype=bool)
    n_fake = np.bincount(inverse, weights=fakes, minlength=len(names))
    n_real = np.bincount(inverse, weights=~fakes, minlength=len(names))
    _check_fake_components(int(np.sum(n_fake > 0)), n_splits, hold_out)
    tie = np.random.default_rng(seed).permutation(len(names))  # equal sizes are dealt in a seeded order
    comp_fold = np.full(len(names), -1, dtype=np.int64)
    counts = np.zeros((n_splits, 2))  # per fold: fakes, reals
    share = 1.0 / np.maximum([n_fake.sum(), n_real.sum()], 1)  # a row's share of its class
    for c in sorted(np.flatnonzero(n_fake > 0), key=lambda c: (-n_fake[c], tie[c])):
        load = ((counts + (n_fake[c], n_real[c])) * share).max(axis=1)  # the fuller class's share after
        comp_fold[c] = int(np.lexsort((counts[:, 0], load))[0])  # the least loaded, then fewest fakes
        counts[comp_fold[c]] += (n_fake[c], n_real[c])
    for c in sorted(np.flatnonzero(n_fake == 0), key=lambda c: (-n_real[c], tie[c])):
        comp_fold[c] = int(np.lexsort((counts[:, 0], counts[:, 1]))[0])  # fewest reals
        counts[comp_fold[c], 1] += n_real[c]
    if np.any(counts[:, 1] == 0):
        logger.warning("some folds have no real rows: the reals share sources or actors with the fakes")
    return comp_fold[inverse]


def _check_fake_components(n_fake_components: int, n_splits: int, hold_out: str) -> None:
    if n_fake_components < n_splits:
        raise ManifestError(
            f"only {n_fake_components} component(s) hold fakes once each {hold_out} is kept whole (with the "
            f"sources and actors it shares) for {n_splits} folds; use -k {max(n_fake_components, 2)} or fewer"
        )


def fold_holdouts(rows: Sequence[ManifestRow], folds: np.ndarray, hold_out: str) -> list[list[str]]:
    """Per fold, the sorted generators (or families) of the fakes it holds."""
    held: list[set[str]] = [set() for _ in range(int(folds.max()) + 1 if len(folds) else 0)]
    for row, fold in zip(rows, folds):
        if row.label == FAKE:
            held[int(fold)].add(getattr(row, hold_out) or "(none)")
    return [sorted(names) for names in held]


def _check_enough(rows: Sequence[ManifestRow], comps: Sequence[str], n_splits: int) -> None:
    n_components = len(set(comps))
    if n_components < n_splits:
        raise ManifestError(
            f"only {n_components} independent component(s) (groups merged through shared actors) "
            f"for {n_splits} folds; use fewer folds (-k) or add source videos"
        )
    fake_components = {c for c, row in zip(comps, rows) if row.label == FAKE}
    if len(fake_components) < n_splits:
        logger.warning("only %d component(s) hold fakes: some of the %d folds will have none",
                       len(fake_components), n_splits)


def fold_summary(rows: Sequence[ManifestRow], folds: np.ndarray,
                 hold_out: str | None = None) -> list[tuple[int, int, int, int]]:
    """Per fold: (fold, n_real, n_fake, n_components)."""
    comps = np.array(components(rows, hold_out), dtype=object)
    fakes = np.array([row.label == FAKE for row in rows], dtype=bool)
    summary = []
    for fold in range(int(folds.max()) + 1 if len(folds) else 0):
        mask = folds == fold
        n_fake = int(fakes[mask].sum())
        summary.append((fold, int(mask.sum()) - n_fake, n_fake, len(set(comps[mask]))))
    return summary


def write_folds(rows: Sequence[ManifestRow], folds: np.ndarray, path: Path | str, *,
                hold_out: str | None = None) -> None:
    """Writes the folds file ``path,group,fold`` for ``rows`` and their ``folds`` (``group``: the component,
    with ``hold_out`` as given to `assign_folds`)."""
    path = Path(path)
    if len(folds) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(folds)} fold ids")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(FOLD_COLUMNS)
        for row, comp, fold in zip(rows, components(rows, hold_out), folds):
            writer.writerow([portable_path(row.path, path.parent), comp, int(fold)])


def read_folds(path: Path | str) -> list[FoldRow]:
    """Reads a folds file written by `write_folds`.

    Raises:
        InputError: the file does not exist.
        ManifestError: a column is missing, a fold is not a non-negative integer (with its line), or
            a path is listed twice.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"folds file not found: {path}")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in FOLD_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ManifestError(f"{path}: missing column(s) {', '.join(missing)}; "
                                f"expected {', '.join(FOLD_COLUMNS)}")
        rows = [_fold_row(record, path, reader.line_num) for record in reader]
    if len({row.path for row in rows}) < len(rows):
        raise ManifestError(f"{path}: a path is listed twice")
    return rows


def _fold_row(record: dict[str, str], source: Path, line: int) -> FoldRow:
    text = (record["fold"] or "").strip()
    if not text.isdigit():
        raise ManifestError(f"{source}, line {line}: fold must be a non-negative integer, got {text!r}")
    return FoldRow(resolve_path(record["path"], source.parent), record["group"], int(text))


def fold_map(fold_rows: Sequence[FoldRow]) -> dict[str, int]:
    """Path (as text) -> fold id, from a folds file's rows (`read_folds`)."""
    return {str(row.path): row.fold for row in fold_rows}


def align_folds(paths: Iterable[str | os.PathLike], fold_rows: Sequence[FoldRow] | Mapping[str, int]) -> np.ndarray:
    """int64 fold id of each path (a manifest row's, or a sample's video), looked up in a folds file's rows
    or in a path -> fold mapping (`fold_map`, or an out-of-fold table's own fold column).

    Raises:
        ManifestError: a path has no fold.
    """
    paths = [str(p) for p in paths]
    by_path = fold_rows if isinstance(fold_rows, Mapping) else fold_map(fold_rows)
    missing = sorted({p for p in paths if p not in by_path})
    if missing:
        raise ManifestError(f"{len(missing)} path(s) have no fold, e.g. {missing[:3]}; "
                            "re-run `avdetect folds` on this manifest")
    return np.array([by_path[p] for p in paths], dtype=np.int64)
