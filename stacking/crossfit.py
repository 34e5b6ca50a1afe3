"""Cross-fitting: every row is predicted by a model that never saw its group.

The branches' out-of-fold scores come from the shared, leak-proof folds file; the stacker and its
calibrator reuse those folds, so a source video, its fakes and its actor sit on one side of every fit.
Calibrating a model on its own training predictions makes it overconfident (the scores it has fitted
are better than the scores it will see), so calibration data must be disjoint from training data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold


def fold_ids(y: np.ndarray, *, folds: np.ndarray | None = None, groups: np.ndarray | None = None,
             cv: int = 5, random_state: int = 0) -> np.ndarray:
    """int64 (n,) the fold of each row, or all -1 when the data are too small to split.

    Args:
        y: (n,) binary labels, 0/1.
        folds: (n,) predefined fold ids (the folds file); returned as they are when given.
        groups: (n,) group keys; whole groups are dealt to folds when given.
        cv: the largest number of folds; fewer when a class or the groups are too few.
        random_state: seeds the dealing.
    """
    if folds is not None:
        folds = np.asarray(folds, dtype=np.int64)
        if folds.shape != y.shape or (folds < 0).any():
            raise ValueError(f"folds must be {len(y)} non-negative fold ids, one per row")
        return folds
    n_splits = min(cv, int(np.bincount(y, minlength=2).min()))
    if groups is not None:
        n_splits = min(n_splits, len(np.unique(groups)))
    if n_splits < 2:
        return np.full(len(y), -1, dtype=np.int64)
    if groups is None:
        splitter = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    else:
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
    out = np.full(len(y), -1, dtype=np.int64)
    for fold, (_, test) in enumerate(splitter.split(np.zeros((len(y), 1)), y, groups)):
        out[test] = fold
    return out


def can_cross_fit(folds: np.ndarray) -> bool:
    """True when there are at least two folds to train on and predict."""
    return bool(len(np.unique(folds)) >= 2 and (folds >= 0).all())


def cross_fit(fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray], folds: np.ndarray,
              ) -> np.ndarray:
    """Out-of-fold predictions: ``fit_predict(train_rows, test_rows)`` once per fold.

    Args:
        fit_predict: fits on the int64 row indices ``train_rows`` and returns float (len(test_rows),)
            predictions for ``test_rows``.
        folds: int64 (n,) fold ids from `fold_ids`, at least two distinct.

    Returns:
        float64 (n,) each row's prediction by the model of its own fold.
    """
    if not can_cross_fit(folds):
        raise ValueError("cross-fitting needs at least two folds and a fold for every row")
    out = np.full(len(folds), np.nan)
    for fold in np.unique(folds):
        test = np.flatnonzero(folds == fold)
        out[test] = fit_predict(np.flatnonzero(folds != fold), test)
    return out
