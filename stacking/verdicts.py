"""Per-modality verdicts: P(the face is fake), P(the voice is fake), P(lips and voice disagree).

Each is a small logistic regression on its own modality's features, trained only on videos where that
modality is present and, where the dataset says (FakeAVCeleb, AV-Deepfake1M), on that modality's own
label: a real face over a cloned voice is a FAKE video but a REAL face. Videos without the modality
get NaN, never a guess. The coefficients are plain arrays, saved as JSON.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from stacking.aggregate import AUDIO, SYNC, VISUAL
from stacking.crossfit import can_cross_fit, cross_fit

# Modality -> (feature-name prefixes, presence flag). The voice's: the audio CNN's pooled scores and the
# speaker-encoder head's block (avdetect.features.voice_embed).
MODALITIES: dict[str, tuple[tuple[str, ...], str]] = {
    "visual": ((VISUAL,), "has_face"),
    "audio": ((AUDIO, "voice_embed_"), "has_audio"),
    "sync": ((SYNC,), "has_sync"),
}


@dataclass(frozen=True)
class LinearVerdict:
    """Logistic regression on standardised features of one modality; NaN features count as the mean."""

    modality: str  # a key of MODALITIES
    features: tuple[str, ...]  # (k,) names of the feature columns it reads
    presence: str  # the flag column; rows where it is 0 get NaN
    mean: np.ndarray  # float64 (k,) training mean of each feature
    scale: np.ndarray  # float64 (k,) training standard deviation (1 where constant)
    coef: np.ndarray  # float64 (k,) on the standardised features
    intercept: float

    def predict(self, X: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """float64 (n,) P(this modality is fake) for feature rows ``X`` with columns ``names``."""
        missing = [f for f in (*self.features, self.presence) if f not in names]
        if missing:
            raise ValueError(f"{self.modality} verdict needs feature(s) {missing}")
        Z = standardise(X[:, [names.index(f) for f in self.features]], self.mean, self.scale)
        p = expit(Z @ self.coef + self.intercept)
        return np.where(X[:, names.index(self.presence)] > 0, p, np.nan)

    def to_json(self) -> dict[str, Any]:
        return {"modality": self.modality, "features": list(self.features), "presence": self.presence,
                "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> LinearVerdict:
        arrays = {k: np.asarray(raw[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
        return cls(modality=raw["modality"], features=tuple(raw["features"]), presence=raw["presence"],
                   intercept=float(raw["intercept"]), **arrays)


def standardise(X: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(X - mean) / scale with NaN set to 0, i.e. to the training mean."""
    return np.nan_to_num((X - mean) / scale, nan=0.0, posinf=0.0, neginf=0.0)


def column_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NaN-ignoring mean and standard deviation of each column (0 and 1 for all-NaN or constant ones)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns are handled below
        mean, std = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
    mean = np.nan_to_num(mean)
    return mean, np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)


def fit_linear(modality: str, X: np.ndarray, y: np.ndarray, names: tuple[str, ...], *,
               C: float = 0.5, sample_weight: np.ndarray | None = None) -> LinearVerdict:
    """Fits the `LinearVerdict` of ``modality`` on rows ``X`` (all present) and 0/1 labels ``y``."""
    prefixes, presence = MODALITIES[modality]
    cols = [i for i, name in enumerate(names) if name.startswith(prefixes)]
    mean, scale = column_stats(X[:, cols])
    lr = LogisticRegression(C=C, solver="newton-cholesky").fit(standardise(X[:, cols], mean, scale), y,
                                                               sample_weight=sample_weight)
    return LinearVerdict(modality, tuple(names[i] for i in cols), presence, mean, scale,
                         lr.coef_[0].astype(np.float64), float(lr.intercept_[0]))


def fit_verdict(modality: str, X: np.ndarray, labels: np.ndarray, names: tuple[str, ...],
                folds: np.ndarray, *, C: float = 0.5, sample_weight: np.ndarray | None = None
                ) -> tuple[LinearVerdict | None, np.ndarray]:
    """The verdict model of one modality and its out-of-fold predictions.

    Args:
        modality: a key of `MODALITIES`.
        X: float64 (n, F) feature rows with columns ``names``.
        labels: int (n,) this modality's label: 1 fake, 0 real, -1 unknown (not trained on, but
            predicted out of fold like every row where the modality is present).
        folds: int64 (n,) fold ids; -1 everywhere when the data are too small to cross-fit.
        C: inverse L2 strength; small, as a few hundred rows carry dozens of correlated features.

    Returns:
        The model refitted on every labelled row (None when these hold a single class or the modality
        has no feature), and float64 (n,) out-of-fold P(fake), NaN where not predicted.
    """
    prefixes, presence = MODALITIES[modality]
    oof = np.full(len(X), np.nan)
    if presence not in names or not any(name.startswith(prefixes) for name in names):
        return None, oof
    rows = np.flatnonzero(X[:, names.index(presence)] > 0)
    X, y = X[rows], labels[rows]
    w = np.ones(len(rows)) if sample_weight is None else np.asarray(sample_weight, np.float64)[rows]
    known = y >= 0
    if len(np.unique(y[known])) < 2:
        return None, oof
    if can_cross_fit(folds[rows]):
        def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            train = train[known[train]]
            if len(np.unique(y[train])) < 2:
                return np.full(len(test), np.nan)
            model = fit_linear(modality, X[train], y[train], names, C=C, sample_weight=w[train])
            return model.predict(X[test], names)
        oof[rows] = cross_fit(fit_predict, folds[rows])
    return fit_linear(modality, X[known], y[known], names, C=C, sample_weight=w[known]), oof
