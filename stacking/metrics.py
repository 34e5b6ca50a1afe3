"""Binary detection metrics: AUC, clipped log loss, ECE, EER, accuracy, reliability curves, by group.

DFDC was scored by log loss, which punishes one confident mistake without bound; Kaggle clipped at
1e-15, we clip at 1e-6 so that a single 0/1 prediction cannot dominate a small evaluation set. ECE uses
15 equal-width bins (Guo et al., "On Calibration of Modern Neural Networks", ICML 2017).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

EPS = 1e-6
N_BINS = 15


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present (a rank measure: class weights do not change it)."""
    y = np.asarray(y)
    return float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else float("nan")


def equal_class_weights(y: np.ndarray) -> np.ndarray:
    """float64 (n,) weights under which both classes weigh the same in total (a 50 % prior of fakes).

    A stacker fitted with class-balanced weights is calibrated to that prior; its calibration is measured
    under the same weights, not under the share of fakes an evaluation set happens to have."""
    y = np.asarray(y)
    w = np.ones(len(y))
    for label in np.unique(y):
        w[y == label] = 0.5 * len(y) / np.sum(y == label)
    return w


def log_loss(y: np.ndarray, p: np.ndarray, *, eps: float = EPS, sample_weight: np.ndarray | None = None) -> float:
    """Mean (weighted) binary cross-entropy with probabilities clipped to [eps, 1 - eps]; NaN when empty."""
    y, p = np.asarray(y, dtype=np.float64), np.clip(np.asarray(p, dtype=np.float64), eps, 1 - eps)
    if y.size == 0:
        return float("nan")
    return float(-np.average(y * np.log(p) + (1 - y) * np.log(1 - p), weights=sample_weight))


def _bin_index(p: np.ndarray, n_bins: int) -> np.ndarray:
    # Bins [0, 1/n), ..., [(n-1)/n, 1]: a probability of exactly 1 goes to the last bin.
    return np.minimum((np.asarray(p) * n_bins).astype(np.int64), n_bins - 1)


def reliability_curve(y: np.ndarray, p: np.ndarray, *, n_bins: int = N_BINS,
                      sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin: mean predicted probability, observed fake rate and count (weight with
    `sample_weight`).

    Returns:
        float64 (n_bins,), float64 (n_bins,), int64 (n_bins,) (float64 when weighted); the first two are
        NaN in empty bins.
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    w = np.ones_like(p) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    bins = _bin_index(p, n_bins)
    counts = np.bincount(bins, weights=w, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_p = np.bincount(bins, weights=w * p, minlength=n_bins) / counts
        rate = np.bincount(bins, weights=w * y, minlength=n_bins) / counts
    return mean_p, rate, counts.astype(np.int64) if sample_weight is None else counts


def ece(y: np.ndarray, p: np.ndarray, *, n_bins: int = N_BINS, sample_weight: np.ndarray | None = None) -> float:
    """Expected calibration error: count-weighted mean |observed rate - mean prediction| over bins."""
    mean_p, rate, counts = reliability_curve(y, p, n_bins=n_bins, sample_weight=sample_weight)
    if counts.sum() == 0:
        return float("nan")
    full = counts > 0
    return float(np.sum(counts[full] * np.abs(rate[full] - mean_p[full])) / counts.sum())


def eer(y: np.ndarray, p: np.ndarray) -> float:
    """Equal error rate: where the false-positive and false-negative rates cross; NaN for one class
    (a rate within each class, so class weights do not change it)."""
    y = np.asarray(y)
    if len(np.unique(y)) < 2:
        return float("nan")
    fpr, tpr, _ = roc_curve(y, p)
    fnr = 1 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    return float((fpr[i] + fnr[i]) / 2)


def accuracy(y: np.ndarray, p: np.ndarray, *, threshold: float = 0.5,
             sample_weight: np.ndarray | None = None) -> float:
    """(Weighted) fraction right when calling FAKE above ``threshold``; NaN when empty."""
    y, p = np.asarray(y), np.asarray(p)
    return float(np.average((p > threshold) == (y == 1), weights=sample_weight)) if y.size else float("nan")


@dataclass(frozen=True)
class Metrics:
    """The summary of one set of predictions; rows with a NaN prediction are left out and counted."""

    n: int  # rows scored
    n_fake: int
    n_missing: int  # rows whose prediction was NaN (modality absent), not scored
    auc: float
    log_loss: float
    ece: float
    eer: float
    accuracy: float  # at 0.5

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def to_json(self) -> dict[str, float | int | None]:
        """`to_dict` with NaN (one class, no rows) as None, so the file is strict JSON."""
        return {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in asdict(self).items()}


def summarize(y: np.ndarray, p: np.ndarray, *, equal_classes: bool = False) -> Metrics:
    """`Metrics` of probabilities ``p`` against 0/1 labels ``y`` (NaN predictions left out); with
    `equal_classes` log loss, ECE and accuracy weigh both classes the same (`equal_class_weights`)."""
    y, p = np.asarray(y, dtype=np.int64), np.asarray(p, dtype=np.float64)
    ok = ~np.isnan(p)
    y, q = y[ok], p[ok]
    w = equal_class_weights(y) if equal_classes else None
    return Metrics(n=int(ok.sum()), n_fake=int(y.sum()), n_missing=int((~ok).sum()), auc=auc(y, q),
                   log_loss=log_loss(y, q, sample_weight=w), ece=ece(y, q, sample_weight=w), eer=eer(y, q),
                   accuracy=accuracy(y, q, sample_weight=w))


def by_group(y: np.ndarray, p: np.ndarray, groups: Sequence[str]) -> dict[str, Metrics]:
    """`Metrics` for each distinct value of ``groups`` (e.g. the dataset or the modality labels)."""
    groups = np.asarray(groups, dtype=str)
    y, p = np.asarray(y), np.asarray(p)
    return {g: summarize(y[groups == g], p[groups == g]) for g in sorted(set(groups.tolist()))}


def format_table(rows: dict[str, Metrics]) -> str:
    """A fixed-width text table of named `Metrics`, one line each."""
    width = max([len(name) for name in rows] + [5])
    lines = [f"{'':<{width}} {'n':>6} {'fake':>6} {'AUC':>6} {'logloss':>8} {'ECE':>6} {'EER':>6} "
             f"{'acc@.5':>6}"]
    for name, m in rows.items():
        lines.append(f"{name:<{width}} {m.n:>6} {m.n_fake:>6} {m.auc:>6.3f} {m.log_loss:>8.4f} "
                     f"{m.ece:>6.3f} {m.eer:>6.3f} {m.accuracy:>6.3f}")
    return "\n".join(lines)
