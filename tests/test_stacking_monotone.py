"""Monotone constraints: the evidence rules name the right columns, and a constrained stacker obeys them."""

from __future__ import annotations

import numpy as np
import pytest

from stacking.aggregate import AggregateConfig
from stacking.bundle import load_bundle, save_bundle
from stacking.monotone import EVIDENCE, constraints
from stacking.stacker import LGBMStacker


def test_evidence_rules_sign_the_branch_scores_and_sync_columns_only():
    signs = dict(zip(NAMES := (
        "vis_max_mean", "vis_main_q90", "vis_max_confident_mean", "vis_all_mean", "aud_frac_gt80",
        "sync_abs_lag_s", "sync_motion_abs_lag_s", "sync_motion_window_lag_std_s",
        "sync_peak", "sync_motion_at_zero", "sync_window_agreement", "sync_motion_sharpness",
        "vis_main_std", "aud_longest_run", "sync_best_lag_s", "n_frames", "has_sync",
        "face_spectrum_resid_face_peak", "sync_learnt_abs_offset_s", "voice_embed_consistency_mean",
        "voice_embed_logit",
    ), constraints(NAMES, EVIDENCE)))
    assert [n for n, s in signs.items() if s == 1] == [*NAMES[:8], "voice_embed_logit"]
    assert [n for n, s in signs.items() if s == -1] == list(NAMES[8:12])
    assert not any(signs[n] for n in NAMES[12:-1])  # spreads, signed lags, counts, flags, other blocks: free


def test_the_first_matching_rule_decides_and_bad_signs_are_refused():
    assert constraints(["a_x", "a_y", "b"], [("a_x", -1), ("a_*", 1)]) == [-1, 1, 0]
    with pytest.raises(ValueError, match="sign 2"):
        constraints(["a"], [("a", 2)])


def u_shaped(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Column 0 'evidence' whose low end is fake as often as its high end (a corpus quirk); column 1 noise."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n, 2))
    y = (rng.uniform(0, 1, n) < np.where(X[:, 0] < 0.2, 0.8, X[:, 0])).astype(int)
    return X, y, np.arange(n) % 4


def partial_dependence(stacker: LGBMStacker, X: np.ndarray) -> np.ndarray:
    grid = np.linspace(0, 1, 41)
    return np.array([stacker.predict_raw(np.c_[np.full(len(X), v), X[:, 1]]).mean() for v in grid])


def test_a_constrained_column_only_raises_p_fake_and_the_rule_survives_the_bundle(tmp_path):
    X, y, folds = u_shaped()
    names = ("vis_max_mean", "noise")
    free = LGBMStacker(n_estimators=80, calibration="platt").fit(X, y, folds=folds, feature_names=names)
    bound = LGBMStacker(n_estimators=80, calibration="platt", monotone=EVIDENCE).fit(
        X, y, folds=folds, feature_names=names)
    assert np.diff(partial_dependence(free, X)).min() < -0.05  # the free trees learn the quirk
    assert np.diff(partial_dependence(bound, X)).min() >= -1e-9
    save_bundle(tmp_path, bound, aggregate=AggregateConfig())
    loaded = load_bundle(tmp_path).stacker
    assert constraints(names, loaded.get_params()["monotone"]) == [1, 0]
    np.testing.assert_allclose(loaded.predict_raw(X), bound.predict_raw(X))
