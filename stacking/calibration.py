"""Score calibration: isotonic regression or Platt scaling, chosen by held-out log loss.

Boosted trees rank well but their probabilities are not calibrated (Niculescu-Mizil & Caruana, ICML
2005), and DFDC was scored by log loss, where overconfidence costs more than it ranks. Platt scaling
(a logistic regression on the logit) has two parameters and suits a few hundred videos; isotonic
regression bends to any monotone distortion but needs more data. Neither is assumed: both are scored
on held-out folds of the calibration data and the better one is refitted on all of it.

The fitted mapping is kept as plain arrays (isotonic thresholds or Platt coefficients), so a saved
calibrator is JSON and predicts exactly what the fitted one did.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from stacking.crossfit import can_cross_fit, cross_fit, fold_ids
from stacking.metrics import log_loss

METHODS = ("auto", "isotonic", "platt")
# Isotonic steps reach exactly 0 or 1 where a bin held one class; an unseen case there would cost an
# unbounded log loss, so the steps are kept this far from the ends.
ISOTONIC_CLIP = 1e-3


def fit_isotonic(s: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> dict[str, Any]:
    """Isotonic (non-decreasing) mapping of 1-D scores ``s`` to P(y = 1), as threshold arrays."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(s, y, sample_weight=w)
    y_steps = np.clip(iso.y_thresholds_, ISOTONIC_CLIP, 1 - ISOTONIC_CLIP)
    return {"method": "isotonic", "x_thresholds": iso.X_thresholds_.astype(np.float64),
            "y_thresholds": y_steps.astype(np.float64)}


def fit_platt(S: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *, C: float = 1.0) -> dict[str, Any]:
    """Platt scaling: logistic regression of ``y`` on the score columns ``S`` (n, k)."""
    lr = LogisticRegression(C=C, solver="newton-cholesky").fit(S, y, sample_weight=w)
    return {"method": "platt", "coef": lr.coef_[0].astype(np.float64),
            "intercept": float(lr.intercept_[0])}


def apply_mapping(params: dict[str, Any], S: np.ndarray) -> np.ndarray:
    """float64 (n,) calibrated P(y = 1) of score columns ``S`` (n, k) under fitted ``params``."""
    if params["method"] == "isotonic":
        # np.interp clamps beyond the ends, as IsotonicRegression(out_of_bounds="clip") does.
        return np.interp(S[:, 0], params["x_thresholds"], params["y_thresholds"])
    return expit(S @ params["coef"] + params["intercept"])


def fit_mapping(method: str, S: np.ndarray, y: np.ndarray, w: np.ndarray | None = None, *,
                C: float = 1.0) -> dict[str, Any]:
    """Fits one of the concrete methods ("isotonic" or "platt") on scores ``S``, labels ``y``, weights ``w``."""
    return fit_isotonic(S[:, 0], y, w) if method == "isotonic" else fit_platt(S, y, w, C=C)


def held_out_losses(candidates: tuple[str, ...], S: np.ndarray, y: np.ndarray, folds: np.ndarray,
                    w: np.ndarray | None = None, *, C: float = 1.0) -> dict[str, float]:
    """Cross-fitted (weighted) log loss of each candidate method on ``S``, ``y`` over ``folds``."""
    losses = {}
    w_all = np.ones(len(y)) if w is None else w
    for method in candidates:
        def fit_predict(train: np.ndarray, test: np.ndarray, method: str = method) -> np.ndarray:
            if len(np.unique(y[train])) < 2:  # a fold holding a whole class: predict its base rate
                return np.full(len(test), y[train].mean())
            return apply_mapping(fit_mapping(method, S[train], y[train], w_all[train], C=C), S[test])
        losses[method] = log_loss(y, cross_fit(fit_predict, folds), sample_weight=w_all)
    return losses


def encode_binary_labels(y: np.ndarray, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """(classes (2,), y encoded 0/1) for an estimator named ``owner``; ValueError unless binary."""
    check_classification_targets(y)
    classes, y_enc = np.unique(y, return_inverse=True)
    if len(classes) > 2:
        raise ValueError(f"Only binary classification is supported; got {len(classes)} classes")
    if len(classes) < 2:
        raise ValueError(f"{owner} needs both classes in the training data, got one class")
    return classes, y_enc


class ScoreCalibrator(ClassifierMixin, BaseEstimator):
    """Calibrated P(fake) from real-valued scores (logits): isotonic or Platt, by held-out log loss.

    With one score column, "auto" tries both methods; with several, Platt scaling is a logistic
    regression on all of them (isotonic regression is one-dimensional).

    Args:
        method: "auto", "isotonic" or "platt".
        cv: folds for choosing the method when ``fit`` is given no folds.
        C: inverse L2 strength of the Platt logistic regression.
        random_state: seeds the folds drawn when none are given.

    Attributes:
        classes_: the two class labels; the second is the positive ("fake") one.
        method_: the method chosen.
        params_: the fitted mapping (see `apply_mapping`).
        held_out_log_loss_: method -> cross-fitted log loss ({} when too few rows to compare).
    """

    def __init__(self, *, method: str = "auto", cv: int = 5, C: float = 1.0, random_state: int = 0):
        self.method = method
        self.cv = cv
        self.C = C
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray, *, folds: np.ndarray | None = None,
            groups: np.ndarray | None = None, sample_weight: np.ndarray | None = None) -> ScoreCalibrator:
        """Fits on scores ``X`` (n, k) and labels ``y``; ``folds`` or ``groups`` keep held-out data apart."""
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid: {', '.join(METHODS)}")
        X, y = validate_data(self, X, y)
        y_enc = self._encode_labels(y)
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        candidates = self._candidates(X.shape[1])
        splits = fold_ids(y_enc, folds=folds, groups=groups, cv=self.cv, random_state=self.random_state)
        self.held_out_log_loss_ = {}
        if len(candidates) > 1 and can_cross_fit(splits):
            self.held_out_log_loss_ = held_out_losses(candidates, X, y_enc, splits, sample_weight, C=self.C)
            candidates = (min(self.held_out_log_loss_, key=self.held_out_log_loss_.get),)
        self.method_ = candidates[-1]  # with too few rows to compare: Platt, the one with 2 parameters
        self.params_ = fit_mapping(self.method_, X, y_enc, sample_weight, C=self.C)
        return self

    def _encode_labels(self, y: np.ndarray) -> np.ndarray:
        self.classes_, y_enc = encode_binary_labels(y, type(self).__name__)
        return y_enc

    def _candidates(self, n_features: int) -> tuple[str, ...]:
        if self.method == "isotonic" and n_features != 1:
            raise ValueError(f"isotonic calibration takes one score column, got {n_features}")
        if self.method != "auto":
            return (self.method,)
        return ("isotonic", "platt") if n_features == 1 else ("platt",)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """float64 (n, 2): P(classes_[0]), P(classes_[1]) for scores ``X`` (n, k)."""
        check_is_fitted(self, "params_")
        X = validate_data(self, X, reset=False)
        p = apply_mapping(self.params_, X)
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The more probable class of each row."""
        check_is_fitted(self, "params_")
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)]

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn's Tags type
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


def calibrator_to_json(calibrator: ScoreCalibrator) -> dict[str, Any]:
    """The fitted calibrator as JSON-ready values (parameters, classes and the mapping)."""
    check_is_fitted(calibrator, "params_")
    mapping = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in calibrator.params_.items()}
    return {"params": calibrator.get_params(), "classes": calibrator.classes_.tolist(),
            "n_features_in": int(calibrator.n_features_in_), "mapping": mapping,
            "held_out_log_loss": calibrator.held_out_log_loss_}


def calibrator_from_json(raw: dict[str, Any]) -> ScoreCalibrator:
    """Rebuilds a fitted `ScoreCalibrator` from `calibrator_to_json` output (KeyError if incomplete)."""
    calibrator = ScoreCalibrator(**raw["params"])
    mapping = {k: np.asarray(v, dtype=np.float64) if isinstance(v, list) else v
               for k, v in raw["mapping"].items()}
    calibrator.classes_ = np.asarray(raw["classes"])
    calibrator.n_features_in_ = int(raw["n_features_in"])
    calibrator.method_ = mapping["method"]
    calibrator.params_ = mapping
    calibrator.held_out_log_loss_ = dict(raw["held_out_log_loss"])
    return calibrator
