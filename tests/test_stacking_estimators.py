"""The scikit-learn contract of the stacker and the calibrator (LightGBM tests its own the same way)."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from stacking.calibration import ScoreCalibrator
from stacking.stacker import LGBMStacker

# Weights are not duplicated rows here: both estimators cross-fit over folds, and a duplicated row
# changes the folds (and LightGBM's min_child_samples counts rows, not weight).
WEIGHTS_ARE_NOT_COPIES = {"check_sample_weight_equivalence_on_dense_data":
                          "cross-fitting: a weight-2 row and two copies fall into different folds"}


@parametrize_with_checks([
    LGBMStacker(n_estimators=10, cv=3, min_child_samples=5),
    ScoreCalibrator(cv=3),
], expected_failed_checks=lambda estimator: WEIGHTS_ARE_NOT_COPIES)
def test_sklearn_contract(estimator, check):
    check(estimator)
