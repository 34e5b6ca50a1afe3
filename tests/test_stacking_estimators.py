"""The scikit-learn contract of the stacker and the calibrator (LightGBM tests its own the same way)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from stacking.calibration import ScoreCalibrator
from stacking.stacker import LGBMStacker


@parametrize_with_checks([
    LGBMStacker(n_estimators=10, cv=3, min_child_samples=5),
    ScoreCalibrator(cv=3),
])
def test_sklearn_contract(estimator, check):
    check(estimator)
