"""The stacker: a small, strongly regularised LightGBM on per-video features, cross-fitted and calibrated.

Second-level models overfit easily: a few hundred videos is the realistic size of a labelled
audio-visual set, so the trees are shallow (7 leaves), need 10 videos per leaf and are L2-penalised;
DFDC teams that stacked (e.g. the 3rd and 4th places) used similarly tiny second levels. Fitting:

1. for each fold of the shared folds file, a booster trained on the other folds scores this fold,
   giving out-of-fold stacker scores (`stacking.crossfit`);
2. the calibrator (`stacking.calibration`) is fitted on those scores only, never on scores of videos
   the booster trained on;
3. the final booster is refitted on every video; the per-modality verdicts (`stacking.verdicts`) are
   trained the same cross-fitted way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from lightgbm import Booster, LGBMClassifier
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from stacking.calibration import ScoreCalibrator, encode_binary_labels
from stacking.crossfit import can_cross_fit, cross_fit, fold_ids
from stacking.monotone import constraints
from stacking.verdicts import MODALITIES, LinearVerdict, fit_verdict

logger = logging.getLogger(__name__)

CALIBRATIONS = ("auto", "isotonic", "platt", "none")
FALL_BACK_TO_VIDEO_LABEL = ("visual", "audio")  # verdicts whose unknown labels take the video's


@dataclass(frozen=True)
class Verdicts:
    """Calibrated probabilities of one batch of videos, overall and per modality."""

    p_fake: np.ndarray  # float64 (n,) the video is fake (any modality)
    p_visual: np.ndarray  # float64 (n,) the face is fake; NaN where no face was found
    p_audio: np.ndarray  # float64 (n,) the voice is synthetic; NaN where there is no speech
    p_sync: np.ndarray  # float64 (n,) lips and voice disagree; NaN without lip-sync features

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"p_fake": self.p_fake, "p_visual": self.p_visual, "p_audio": self.p_audio,
                "p_sync": self.p_sync}


# the LightGBM settings `LGBMStacker` takes and passes on to `lightgbm.LGBMClassifier` under the same names
BOOSTER_PARAMS = ("n_estimators", "learning_rate", "num_leaves", "max_depth", "min_child_samples", "reg_lambda",
                  "subsample", "colsample_bytree")


class LGBMStacker(ClassifierMixin, BaseEstimator):
    """Binary LightGBM stacker with cross-fitted calibration and per-modality verdicts.

    Args:
        n_estimators, learning_rate, num_leaves, max_depth, min_child_samples, reg_lambda, subsample,
            colsample_bytree: passed to `lightgbm.LGBMClassifier`; defaults sized for a few hundred rows.
        calibration: "auto" (isotonic or Platt by held-out log loss), "isotonic", "platt" or "none".
        cv: folds drawn when ``fit`` gets neither ``folds`` nor ``groups``.
        verdict_C: inverse L2 strength of the per-modality logistic regressions.
        monotone: (pattern, sign) rules: columns whose name matches may only raise (+1) or only lower (-1)
            P(fake) (`stacking.monotone`, e.g. its `EVIDENCE`); empty leaves every column free.
        random_state: seeds LightGBM's bagging and any folds drawn.
        n_jobs: LightGBM threads.
        score_column: the name of a column that already is a score on the logit scale (one head's logit):
            no trees are fitted, that column is the raw score and only the calibrator is learnt. Trees would
            cut it into at most LightGBM's 255 feature bins, steps that each fold places elsewhere. The training
            rows' scores must be out of fold (a fold head's logit for the rows it did not see) and none NaN;
            at prediction a NaN score gives NaN.

    Attributes:
        classes_: the two labels; the second is "fake".
        feature_names_: (F,) names of the feature columns.
        booster_: the final `lightgbm.Booster`, trained on every row; None with ``score_column``.
        calibrator_: `ScoreCalibrator` on the booster's raw scores, or None when not calibrated.
        folds_: int64 (n,) the folds used for cross-fitting (-1 when too few rows).
        oof_raw_: float64 (n,) out-of-fold raw booster scores (logits; with ``score_column``, that column).
        oof_proba_: float64 (n,) out-of-fold calibrated P(fake), the calibrator also cross-fitted.
        verdicts_: modality -> `LinearVerdict` (modalities without two classes are absent).
        oof_verdicts_: modality -> float64 (n,) out-of-fold verdicts.
    """

    def __init__(self, *, n_estimators: int = 200, learning_rate: float = 0.03, num_leaves: int = 7,
                 max_depth: int = 3, min_child_samples: int = 10, reg_lambda: float = 5.0,
                 subsample: float = 0.8, colsample_bytree: float = 0.7, calibration: str = "auto",
                 cv: int = 5, verdict_C: float = 0.5, monotone: tuple = (), random_state: int = 0,
                 n_jobs: int = 1, score_column: str | None = None):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.calibration = calibration
        self.cv = cv
        self.verdict_C = verdict_C
        self.monotone = monotone
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.score_column = score_column

    def fit(self, X: np.ndarray, y: np.ndarray, *, folds: np.ndarray | None = None,
            groups: np.ndarray | None = None, feature_names: tuple[str, ...] | None = None,
            modality_labels: dict[str, np.ndarray] | None = None,
            sample_weight: np.ndarray | None = None) -> LGBMStacker:
        """Cross-fits, calibrates and refits on feature rows ``X`` (n, F), NaN allowed, labels ``y``.

        Args:
            folds: int (n,) fold of each row (the shared folds file); preferred over ``groups``.
            groups: (n,) group keys, dealt to ``cv`` folds when no ``folds`` are given.
            feature_names: (F,) column names; the verdicts need `stacking.aggregate`'s names.
            modality_labels: "visual"/"audio"/"sync" -> int (n,) 1 fake, 0 real, -1 unknown; unknown
                face and voice entries fall back to ``y``, unknown sync entries are left out (a fake
                video is no evidence that its lips and voice disagree); a modality not given uses ``y``.
            sample_weight: float (n,) row weights for the booster, the calibrator and the verdicts
                (e.g. `stacking.weights.balanced_weights`); None weighs every row 1.
        """
        if self.calibration not in CALIBRATIONS:
            raise ValueError(f"unknown calibration {self.calibration!r}; valid: {', '.join(CALIBRATIONS)}")
        X, y = validate_data(self, X, y, ensure_all_finite="allow-nan")
        y_enc = self._encode_labels(y)
        self.feature_names_ = self._names(feature_names, X.shape[1])
        if self.score_column is not None:
            self._check_score_column(X)
        self.folds_ = fold_ids(y_enc, folds=folds, groups=groups, cv=self.cv,
                               random_state=self.random_state)
        self.weights_ = _check_sample_weight(sample_weight, X, dtype=np.float64)
        self._fit_calibration(X, y_enc)
        self.booster_ = None if self.score_column is not None else self._fit_booster(X, y_enc, self.weights_)
        self._fit_verdicts(X, y_enc, modality_labels or {})
        return self

    def _encode_labels(self, y: np.ndarray) -> np.ndarray:
        self.classes_, y_enc = encode_binary_labels(y, type(self).__name__)
        return y_enc

    @staticmethod
    def _names(names: tuple[str, ...] | None, n_features: int) -> tuple[str, ...]:
        if names is None:
            return tuple(f"x{i}" for i in range(n_features))
        if len(names) != n_features:
            raise ValueError(f"{len(names)} feature names for {n_features} feature columns")
        return tuple(names)

    def _fit_booster(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> Booster:
        signs = constraints(self.feature_names_, self.monotone)
        shape = {"monotone_constraints": signs, "monotone_constraints_method": "advanced"} if any(signs) else {}
        model = LGBMClassifier(
            **{name: getattr(self, name) for name in BOOSTER_PARAMS},
            subsample_freq=1 if self.subsample < 1 else 0, random_state=self.random_state,
            n_jobs=self.n_jobs, verbose=-1, **shape)
        return model.fit(X, y, sample_weight=w, feature_name=list(self.feature_names_)).booster_

    def _check_score_column(self, X: np.ndarray) -> None:
        if self.score_column not in self.feature_names_:
            raise ValueError(f"score column {self.score_column!r} is not among the {len(self.feature_names_)} features")
        missing = int(np.isnan(self._given_score(X)).sum())
        if missing:
            raise ValueError(f"score column {self.score_column!r} is NaN in {missing} training rows: a stacker that "
                             "only calibrates a score needs it on every row")

    def _given_score(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X[:, self.feature_names_.index(self.score_column)], dtype=np.float64)

    def _oof_raw(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.score_column is not None:  # nothing is fitted on the rows: the column is out of fold already
            return self._given_score(X)

        def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            if len(np.unique(y[train])) < 2:  # the other folds hold one class: only its rate is known
                return np.full(len(test), logit(np.clip(y[train].mean(), 1e-3, 1 - 1e-3)))
            return self._fit_booster(X[train], y[train], self.weights_[train]).predict(X[test], raw_score=True)
        return cross_fit(fit_predict, self.folds_)

    def _new_calibrator(self) -> ScoreCalibrator:
        return ScoreCalibrator(method=self.calibration, cv=self.cv, random_state=self.random_state)

    def _fit_calibration(self, X: np.ndarray, y: np.ndarray) -> None:
        self.calibrator_ = None
        self.oof_raw_ = np.full(len(y), np.nan)
        if not can_cross_fit(self.folds_):
            logger.warning("too few rows per class to cross-fit: the stacker is left uncalibrated")
            self.oof_proba_ = self.oof_raw_.copy()
            return
        self.oof_raw_ = self._oof_raw(X, y)
        if self.calibration != "none":
            self.calibrator_ = self._new_calibrator().fit(self.oof_raw_[:, None], y, folds=self.folds_,
                                                          sample_weight=self.weights_)
        self.oof_proba_ = self._oof_calibrated(self.oof_raw_, y)

    def _oof_calibrated(self, raw: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Out-of-fold calibrated scores: the calibrator, too, is fitted without the fold it scores.

        The other folds' raw scores it is fitted on come from boosters that did train on this fold, a
        second-order dependence that nested cross-validation would remove; with a 2-parameter Platt
        map (or a monotone isotonic one) its effect on the reported log loss and ECE is negligible.
        """
        if self.calibration == "none":
            return expit(raw)

        def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
            if len(np.unique(y[train])) < 2:
                return np.full(len(test), y[train].mean())
            calibrator = self._new_calibrator().fit(raw[train, None], y[train], folds=self.folds_[train],
                                                    sample_weight=self.weights_[train])
            return calibrator.predict_proba(raw[test, None])[:, 1]
        return cross_fit(fit_predict, self.folds_)

    def _fit_verdicts(self, X: np.ndarray, y: np.ndarray, modality_labels: dict[str, np.ndarray]) -> None:
        self.verdicts_: dict[str, LinearVerdict] = {}
        self.oof_verdicts_: dict[str, np.ndarray] = {}
        for modality in MODALITIES:
            given = modality_labels.get(modality)
            labels = y if given is None else np.asarray(given, dtype=np.int64)
            if given is not None and modality in FALL_BACK_TO_VIDEO_LABEL:
                labels = np.where(labels >= 0, labels, y)
            model, oof = fit_verdict(modality, X, labels, self.feature_names_, self.folds_,
                                     C=self.verdict_C, sample_weight=self.weights_)
            self.oof_verdicts_[modality] = oof
            if model is not None:
                self.verdicts_[modality] = model

    def predict_raw(self, X: np.ndarray) -> np.ndarray:
        """float64 (n,) the final booster's raw scores (logits) of feature rows ``X``."""
        check_is_fitted(self, "booster_")
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        if self.score_column is not None:
            return self._given_score(X)
        return np.asarray(self.booster_.predict(X, raw_score=True), dtype=np.float64)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """float64 (n, 2): P(classes_[0]), P(classes_[1]), calibrated."""
        raw = self.predict_raw(X)
        if self.calibrator_ is None:
            p = expit(raw)
        else:
            p, known = np.full(len(raw), np.nan), np.isfinite(raw)  # a NaN score (``score_column``) says nothing
            if known.any():
                p[known] = self.calibrator_.predict_proba(raw[known, None])[:, 1]
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The more probable class of each row."""
        check_is_fitted(self, "booster_")
        return self.classes_[(self.predict_proba(X)[:, 1] > 0.5).astype(np.int64)]

    def predict_verdicts(self, X: np.ndarray) -> Verdicts:
        """`Verdicts` of feature rows ``X``: calibrated P(fake) and the per-modality probabilities."""
        p_fake = self.predict_proba(X)[:, 1]
        X = np.asarray(X, dtype=np.float64)
        nan = np.full(len(p_fake), np.nan)
        per = {m: (v.predict(X, self.feature_names_) if (v := self.verdicts_.get(m)) else nan)
               for m in MODALITIES}
        return Verdicts(p_fake, per["visual"], per["audio"], per["sync"])

    def feature_importance(self, kind: str = "gain") -> dict[str, float]:
        """Feature name -> total gain (or split count with ``kind="split"``) in the final booster."""
        check_is_fitted(self, "booster_")
        if self.score_column is not None:  # the one column is the whole score
            return {name: float(name == self.score_column) for name in self.feature_names_}
        values = self.booster_.feature_importance(importance_type=kind)
        return dict(zip(self.feature_names_, np.asarray(values, dtype=np.float64).tolist()))

    def __sklearn_tags__(self):  # noqa: ANN204 - sklearn's Tags type
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.classifier_tags.multi_class = False
        return tags
