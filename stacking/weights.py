"""Row weights for the stacker: sources, classes and kinds of fake balanced."""

from __future__ import annotations

import numpy as np


def balanced_weights(y: np.ndarray, groups: np.ndarray, *, power: float = 1.0,
                     families: np.ndarray | None = None, family_power: float = 0.0) -> np.ndarray:
    """float64 (n,) weights 1 / n(group, class) ** power, scaled so both classes weigh half the total.

    With power 1 each (group, class) weighs the same; smaller powers balance less.

    Pseudo-fakes multiply the fakes of a source (one real GRID clip, ten fakes made from it), so
    unweighted the stacker learns "a clip of that source is fake" and calibrates to an invented prior.

    `families` (n,) names each fake's kind (a generator family, a kind of pseudo-fake); the fakes' weights are
    further divided by n(family) ** family_power, so with 1 every family weighs the same in total (before the
    source balancing) and a few hundred pseudo-fakes of one kind no longer outweigh a few dozen videos of
    each real generator. The reals are left as they are.
    """
    y, groups = np.asarray(y), np.asarray(groups).astype(str)
    w = 1.0 / _counts(np.char.add(np.char.add(groups, "\x00"), y.astype(str))) ** power
    if families is not None and family_power:
        fake = y == 1
        w[fake] /= _counts(np.asarray(families).astype(str)[fake]) ** family_power
    for label in np.unique(y):
        w[y == label] *= 0.5 * len(y) / w[y == label].sum()
    return w


def _counts(keys: np.ndarray) -> np.ndarray:
    """int64 (n,) how many times each key occurs."""
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse]
