"""The stacker: no group leaks into its out-of-fold scores, verdicts per modality, beats the frame mean."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import stacking.verdicts
from stacking.aggregate import build_feature_table
from stacking.metrics import auc
from stacking.records import FeatureTable, FrameScores, SyncTable, WindowScores
from stacking.stacker import LGBMStacker
from stacking.verdicts import fit_linear, fit_verdict


def synthetic(n_groups: int = 40, seed: int = 0) -> tuple[FeatureTable, np.ndarray, np.ndarray, dict]:
    """A real and a fake video per group; a fake swaps the second face or the voice, never both.

    Returns the feature table, labels, groups and modality labels ("visual", "audio").
    """
    rng = np.random.default_rng(seed)
    frames, windows, sync_rows, y, groups, face_fake, voice_fake = [], [], [], [], [], [], []
    for g in range(n_groups):
        for fake in (0, 1):
            video, kind = f"g{g:03d}_{fake}", (rng.choice(["face", "voice"]) if fake else "none")
            if rng.random() > 0.1:  # a face was found
                for track in range(1 + int(rng.random() < 0.6 or kind == "face")):
                    swapped = kind == "face" and track == 1
                    n = 16 if track == 0 else 8
                    p = rng.beta(6, 2, n) if swapped else rng.beta(2, 5, n)
                    frames += [(video, track, 0.2 * i, q) for i, q in enumerate(p)]
            if rng.random() > 0.1:  # speech was found
                p = rng.beta(6, 2, 5) if kind == "voice" else rng.beta(2, 5, 5)
                windows += [(video, float(i), i + 2.0, q) for i, q in enumerate(p)]
                lag = rng.normal(0.25 if kind == "voice" else 0.0, 0.08)
                sync_rows.append((video, lag, abs(lag)))
            y.append(fake), groups.append(f"g{g}")
            face_fake.append(int(kind == "face")), voice_fake.append(int(kind == "voice"))
    v, t, s, p = zip(*frames)
    visual = FrameScores(np.array(v), np.array(t, np.int64), np.array(s), np.array(p))
    v, a, b, p = zip(*windows)
    audio = WindowScores(np.array(v), np.array(a), np.array(b), np.array(p))
    v, lag, abs_lag = zip(*sync_rows)
    sync = SyncTable(np.array(v), np.column_stack([lag, abs_lag]), ("best_lag_s", "abs_lag_s"))
    videos = [f"g{g:03d}_{f}" for g in range(n_groups) for f in (0, 1)]
    table = build_feature_table(visual, audio, sync, videos=videos)
    labels = {"visual": np.array(face_fake), "audio": np.array(voice_fake)}
    return table, np.array(y), np.array(groups), labels


@pytest.fixture(scope="module")
def data():
    return synthetic()


@pytest.fixture(scope="module")
def fitted(data):
    table, y, groups, labels = data
    return LGBMStacker(cv=4).fit(table.X, y, groups=groups, feature_names=table.names,
                                 modality_labels=labels)


class _Booster:
    """Wraps a booster; records the groups of every batch it predicts, next to those it trained on."""

    def __init__(self, booster, trained: set, log: list, group_of: dict):
        self.booster, self.trained, self.log, self.group_of = booster, trained, log, group_of

    def predict(self, X, **kwargs):
        self.log.append(("predict", self.trained, {self.group_of[row.tobytes()] for row in X}))
        return self.booster.predict(X, **kwargs)


def _recording_stacker(group_of: dict, log: list) -> type[LGBMStacker]:
    class Recording(LGBMStacker):
        def _fit_booster(self, X, y, w):
            trained = {group_of[row.tobytes()] for row in X}
            log.append(("fit", trained, set()))
            return _Booster(super()._fit_booster(X, y, w), trained, log, group_of)
    return Recording


@pytest.mark.parametrize("use_folds", [False, True])
def test_no_group_is_both_trained_on_and_predicted_out_of_fold(data, monkeypatch, use_folds):
    table, y, groups, labels = data
    group_of = {row.tobytes(): g for row, g in zip(table.X, groups)}
    log: list = []
    verdict_log: list = []
    fit_linear = stacking.verdicts.fit_linear

    def recording_fit_linear(modality, X, y_, names, **kw):
        verdict_log.append((modality, {group_of[row.tobytes()] for row in X}))
        return fit_linear(modality, X, y_, names, **kw)
    monkeypatch.setattr(stacking.verdicts, "fit_linear", recording_fit_linear)
    folds = {f"g{g}": g % 5 for g in range(40)}
    kwargs = {"folds": np.array([folds[g] for g in groups])} if use_folds else {"groups": groups}
    stacker = _recording_stacker(group_of, log)(cv=4).fit(table.X, y, feature_names=table.names,
                                                           modality_labels=labels, **kwargs)
    predicted = [(trained, seen) for kind, trained, seen in log if kind == "predict"]
    assert len(predicted) == (5 if use_folds else 4)
    assert all(not trained & seen for trained, seen in predicted)
    seen_once = [g for _, seen in predicted for g in seen]
    assert sorted(seen_once) == sorted(set(groups))  # every group predicted exactly once
    assert log[-1][0] == "fit" and log[-1][1] == set(groups)  # the final refit sees everything
    assert not np.isnan(stacker.oof_raw_).any()
    # The verdicts' cross-fitted models leave out one fold each; then one refit on every fold.
    fold_of_group = dict(zip(groups, stacker.folds_))
    n_folds = len(set(stacker.folds_))
    for modality in ("visual", "audio", "sync"):
        fits = [len({fold_of_group[g] for g in seen}) for m, seen in verdict_log if m == modality]
        assert fits == [n_folds - 1] * n_folds + [n_folds]


def test_out_of_fold_scores_ignore_their_own_labels(data):
    table, y, groups, _ = data
    folds = np.array([int(g[1:]) % 4 for g in groups])
    base = LGBMStacker(calibration="none").fit(table.X, y, folds=folds, feature_names=table.names)
    flipped = np.where(folds == 0, 1 - y, y)
    other = LGBMStacker(calibration="none").fit(table.X, flipped, folds=folds, feature_names=table.names)
    np.testing.assert_array_equal(base.oof_raw_[folds == 0], other.oof_raw_[folds == 0])
    assert not np.array_equal(base.oof_raw_[folds == 1], other.oof_raw_[folds == 1])


def test_beats_the_frame_mean_baseline(data, fitted):
    table, y, _, _ = data
    baseline = table.column("vis_all_mean")
    has = ~np.isnan(baseline)
    assert auc(y, fitted.oof_proba_) > auc(y[has], baseline[has]) + 0.15
    assert fitted.calibrator_ is not None and fitted.calibrator_.method_ in ("isotonic", "platt")


def test_predictions_and_verdicts(data, fitted):
    table, y, _, labels = data
    proba = fitted.predict_proba(table.X)
    assert proba.shape == (len(y), 2) and np.allclose(proba.sum(axis=1), 1)
    verdicts = fitted.predict_verdicts(table.X)
    no_face = table.column("has_face") == 0
    assert np.isnan(verdicts.p_visual[no_face]).all() and not np.isnan(verdicts.p_visual[~no_face]).any()
    assert np.isnan(verdicts.p_audio[table.column("has_audio") == 0]).all()
    assert np.isnan(verdicts.p_sync[table.column("has_sync") == 0]).all()
    np.testing.assert_array_equal(verdicts.p_fake, proba[:, 1])
    # Each verdict follows its own modality's label out of fold.
    for modality in ("visual", "audio"):
        oof, lab = fitted.oof_verdicts_[modality], labels[modality]
        known = ~np.isnan(oof)
        assert auc(lab[known], oof[known]) > 0.85
    assert set(fitted.feature_importance()) == set(table.names)


def test_modality_labels_default_to_the_video_label(data):
    table, y, groups, _ = data
    stacker = LGBMStacker(cv=3, n_estimators=20).fit(table.X, y, groups=groups, feature_names=table.names)
    assert set(stacker.verdicts_) == {"visual", "audio", "sync"}


def test_unknown_sync_labels_are_not_trained_on_but_predicted_out_of_fold(data):
    table, y, groups, labels = data
    sync = np.where(np.arange(len(y)) % 3 == 0, -1, y)
    folds = np.arange(len(y)) % 3
    model, oof = fit_verdict("sync", table.X, sync, table.names, folds)
    present = table.X[:, table.names.index("has_sync")] > 0
    direct = fit_linear("sync", table.X[present & (sync >= 0)], sync[present & (sync >= 0)], table.names)
    np.testing.assert_allclose(model.coef, direct.coef)
    assert np.isfinite(oof[present]).all() and np.isnan(oof[~present]).all()
    stacker = LGBMStacker(cv=3, n_estimators=20).fit(table.X, y, groups=groups, feature_names=table.names,
                                                     modality_labels={**labels, "sync": sync})
    refit = fit_linear("sync", table.X[present & (sync >= 0)], sync[present & (sync >= 0)], table.names,
                       sample_weight=stacker.weights_[present & (sync >= 0)])
    np.testing.assert_allclose(stacker.verdicts_["sync"].coef, refit.coef)  # not the video labels


def test_too_few_rows_leaves_it_uncalibrated(caplog):
    X, y = np.array([[0.1], [0.9], [0.2]]), np.array([0, 1, 0])
    with caplog.at_level(logging.WARNING, logger="stacking.stacker"):
        stacker = LGBMStacker(min_child_samples=1).fit(X, y)
    assert stacker.calibrator_ is None and "uncalibrated" in caplog.text
    assert stacker.predict_proba(X).shape == (3, 2)
    assert stacker.predict_verdicts(X).p_visual.shape == (3,)


def test_bad_inputs():
    X, y = np.zeros((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match="valid: auto"):
        LGBMStacker(calibration="beta").fit(X, y)
    with pytest.raises(ValueError, match="3 feature names"):
        LGBMStacker().fit(X, y, feature_names=("a", "b", "c"))


def test_balanced_weights_even_out_sources_and_classes():
    from stacking.weights import balanced_weights

    y = np.array([0, 1, 1, 1, 1, 0, 1])
    groups = np.array(["a", "a", "a", "a", "a", "b", "b"])
    w = balanced_weights(y, groups)
    assert np.isclose(w[y == 0].sum(), w[y == 1].sum())
    assert np.isclose(w[1:5].sum(), w[6])  # four fakes of source a weigh what b's one fake weighs
    assert np.allclose(balanced_weights(y, groups, power=0.0)[y == 1], w[y == 1].sum() / 5)


def test_family_weights_even_out_the_kinds_of_fake():
    from stacking.weights import balanced_weights

    y = np.array([0, 0, 1, 1, 1, 1, 1])
    groups = np.arange(7).astype(str)  # every video its own source
    families = np.array(["", "", "blend", "blend", "blend", "blend", "wav2lip"])
    w = balanced_weights(y, groups, families=families, family_power=1.0)
    assert np.isclose(w[2:6].sum(), w[6]) and np.isclose(w[y == 0].sum(), w[y == 1].sum())
    assert np.allclose(w[:2], 3.5 / 2)  # the reals as without families
    assert np.allclose(balanced_weights(y, groups, families=families, family_power=0.0), balanced_weights(y, groups))


def test_the_voice_verdict_reads_the_audio_scores_and_the_voice_embed_block():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    names = ("aud_mean", "voice_embed_logit", "vis_all_mean", "has_audio")
    X = np.c_[rng.random(100), y * 2 + rng.normal(0, 0.5, 100), rng.random(100), np.ones(100)]
    verdict = fit_linear("audio", X, y, names)
    assert verdict.features == ("aud_mean", "voice_embed_logit")
    assert verdict.coef[1] > 1 and abs(verdict.coef[0]) < verdict.coef[1] / 4



def _one_score(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], np.ndarray]:
    """Rows of an out-of-fold logit that ranks the classes well, a presence flag and four folds."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    X = np.c_[2 * y - 1 + rng.normal(0, 1.0, n), np.ones(n)]
    return X, y, ("voice_embed_logit", "has_audio"), np.arange(n) % 4


def test_a_score_column_is_calibrated_not_cut_into_steps():
    X, y, names, folds = _one_score()
    stacker = LGBMStacker(score_column="voice_embed_logit").fit(X, y, folds=folds, feature_names=names)
    assert stacker.booster_ is None
    np.testing.assert_array_equal(stacker.oof_raw_, X[:, 0])  # nothing fitted on the rows it scores
    p = stacker.predict_proba(X)[:, 1]
    assert len(np.unique(p)) == len(p) and np.all(np.diff(p[np.argsort(X[:, 0])]) > 0)  # strictly increasing
    for k in range(4):  # each fold's calibrated scores keep the column's order
        held = folds == k
        assert np.all(np.diff(stacker.oof_proba_[held][np.argsort(X[held, 0])]) > 0)
    trees = LGBMStacker(n_estimators=200, num_leaves=3).fit(X, y, folds=folds, feature_names=names)
    assert len(np.unique(trees.predict_proba(X)[:, 1])) < len(p)  # the trees' steps tie voices
    assert stacker.feature_importance() == {"voice_embed_logit": 1.0, "has_audio": 0.0}


def test_a_score_column_says_nothing_where_it_is_missing():
    X, y, names, folds = _one_score()
    stacker = LGBMStacker(score_column="voice_embed_logit").fit(X, y, folds=folds, feature_names=names)
    p = stacker.predict_verdicts(np.array([[np.nan, 1.0], [0.5, 1.0]])).p_fake
    assert np.isnan(p[0]) and 0 < p[1] < 1
    with pytest.raises(ValueError, match="not among"):
        LGBMStacker(score_column="logit").fit(X, y, folds=folds, feature_names=names)
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN in 1 training rows"):
        LGBMStacker(score_column="voice_embed_logit").fit(X, y, folds=folds, feature_names=names)
