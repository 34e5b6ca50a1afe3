"""Calibration: held-out log loss goes down on miscalibrated scores; the chosen mapping survives JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.special import expit, logit

from stacking.calibration import ISOTONIC_CLIP, ScoreCalibrator, calibrator_from_json, calibrator_to_json
from stacking.metrics import log_loss


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z), scores sigmoid(3 z): right ranking, far too confident."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 1.5, n)
    y = (rng.random(n) < expit(z)).astype(np.int64)
    return expit(3 * z), y


@pytest.mark.parametrize("method", ["auto", "platt", "isotonic"])
def test_calibration_lowers_held_out_log_loss(method):
    s_train, y_train = _overconfident(600, seed=0)
    s_test, y_test = _overconfident(2000, seed=1)
    calibrator = ScoreCalibrator(method=method).fit(logit(s_train)[:, None], y_train)
    p = calibrator.predict_proba(logit(s_test)[:, None])[:, 1]
    assert log_loss(y_test, p) < log_loss(y_test, s_test) - 0.05
    assert np.corrcoef(p, s_test)[0, 1] > 0.9  # still ranks as the scores do


def test_auto_picks_the_lower_held_out_loss():
    s, y = _overconfident(600, seed=2)
    calibrator = ScoreCalibrator().fit(logit(s)[:, None], y)
    losses = calibrator.held_out_log_loss_
    assert set(losses) == {"isotonic", "platt"}
    assert calibrator.method_ == min(losses, key=losses.get)
    # Scores sigmoid(3z) are exactly a Platt family member: the logistic fit recovers slope ~1/3.
    platt = ScoreCalibrator(method="platt").fit(logit(s)[:, None], y)
    assert platt.params_["coef"][0] == pytest.approx(1 / 3, abs=0.1)


def test_isotonic_wins_on_a_step():
    rng = np.random.default_rng(3)
    s = rng.normal(size=3000)
    y = (rng.random(3000) < np.where(s > 0.5, 0.9, 0.1)).astype(np.int64)  # not a sigmoid of s
    calibrator = ScoreCalibrator().fit(s[:, None], y)
    assert calibrator.method_ == "isotonic"
    p = calibrator.predict_proba(s[:, None])[:, 1]
    assert ISOTONIC_CLIP <= p.min() and p.max() <= 1 - ISOTONIC_CLIP


def test_held_out_folds_are_used_when_given():
    s, y = _overconfident(200, seed=4)
    folds = np.arange(200) % 4
    calibrator = ScoreCalibrator().fit(logit(s)[:, None], y, folds=folds)
    assert set(calibrator.held_out_log_loss_) == {"isotonic", "platt"}
    with pytest.raises(ValueError, match="fold ids"):
        ScoreCalibrator().fit(logit(s)[:, None], y, folds=folds[:10])


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_json_round_trip_predicts_the_same(method):
    s, y = _overconfident(300, seed=5)
    calibrator = ScoreCalibrator(method=method).fit(logit(s)[:, None], y)
    loaded = calibrator_from_json(json.loads(json.dumps(calibrator_to_json(calibrator))))
    grid = np.linspace(-12, 12, 101)[:, None]
    np.testing.assert_array_equal(loaded.predict_proba(grid), calibrator.predict_proba(grid))
    assert loaded.method_ == method


def test_bad_options_and_labels():
    X, y = np.zeros((10, 2)), np.arange(10) % 2
    with pytest.raises(ValueError, match="one score column"):
        ScoreCalibrator(method="isotonic").fit(X, y)
    with pytest.raises(ValueError, match="valid: auto"):
        ScoreCalibrator(method="beta").fit(X, y)
    with pytest.raises(ValueError, match="one class"):
        ScoreCalibrator().fit(X, np.zeros(10))
