"""Saved stackers: text and JSON only, same predictions after loading, tampered files refused."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

from stacking.aggregate import AggregateConfig
from stacking.bundle import BOOSTER, CALIBRATOR, CONFIG, MANIFEST, VERDICTS, load_bundle, save_bundle
from stacking.errors import BundleError, StackingError
from stacking.stacker import LGBMStacker


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    names = ("vis_max_mean", "vis_main_q90", "has_face", "aud_mean", "has_audio", "sync_peak", "has_sync")
    X = rng.normal(size=(160, len(names)))
    X[:, 2], X[:, 4], X[:, 6] = rng.random(160) > 0.2, 1.0, rng.random(160) > 0.5
    X[X[:, 2] == 0, :2] = np.nan
    y = (np.nan_to_num(X[:, 0]) + X[:, 3] + rng.normal(size=160) > 0).astype(np.int64)
    stacker = LGBMStacker(cv=4, n_estimators=60).fit(X, np.where(y == 1, "FAKE", "REAL"),
                                                     feature_names=names)
    return stacker, X


@pytest.fixture
def saved(fitted, tmp_path):
    stacker, _ = fitted
    config = AggregateConfig(stats=("mean", "q90"))
    save_bundle(tmp_path, stacker, aggregate=config, extra={"cv": {"auc": 0.9, "eer": float("nan")}})
    return tmp_path


def test_round_trip_predicts_the_same(fitted, saved):
    stacker, X = fitted
    bundle = load_bundle(saved)
    np.testing.assert_array_equal(bundle.stacker.predict_proba(X), stacker.predict_proba(X))
    np.testing.assert_array_equal(bundle.stacker.predict(X), stacker.predict(X))
    before, after = stacker.predict_verdicts(X).as_dict(), bundle.stacker.predict_verdicts(X).as_dict()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name])
    assert bundle.aggregate == AggregateConfig(stats=("mean", "q90"))
    assert bundle.feature_names == stacker.feature_names_
    assert bundle.extra["cv"] == {"auc": 0.9, "eer": None}
    assert bundle.stacker.classes_.tolist() == ["FAKE", "REAL"]
    assert bundle.stacker.get_params() == stacker.get_params()


def test_files_are_text_and_listed(saved):
    assert (saved / BOOSTER).read_text().startswith("tree")
    manifest = json.loads((saved / MANIFEST).read_text())
    assert set(manifest["files"]) == {BOOSTER, CALIBRATOR, VERDICTS, CONFIG}
    config = json.loads((saved / CONFIG).read_text())
    assert config["feature_names"][0] == "vis_max_mean" and config["aggregate"]["stats"] == ["mean", "q90"]
    assert not list(saved.glob("*.pkl")) and not list(saved.glob("*.pickle"))


@pytest.mark.parametrize("name", [BOOSTER, CALIBRATOR, VERDICTS, CONFIG])
def test_tampered_file_is_refused(saved, name):
    path = saved / name
    path.write_bytes(path.read_bytes().replace(b"0", b"1", 1))
    with pytest.raises(BundleError, match=f"{name}: sha256 does not match"):
        load_bundle(saved)


def test_missing_parts_are_refused(saved):
    (saved / VERDICTS).unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(saved)
    (saved / MANIFEST).unlink()
    with pytest.raises(BundleError, match="not found"):
        load_bundle(saved)
    assert issubclass(BundleError, StackingError)


def test_malformed_but_consistent_file_is_refused(saved):
    # Rewriting a file *and* its hash passes the manifest, but not the format checks.
    (saved / BOOSTER).write_text("not a model\n")
    manifest = json.loads((saved / MANIFEST).read_text())
    manifest["files"][BOOSTER] = hashlib.sha256(b"not a model\n").hexdigest()
    (saved / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="LightGBM"):
        load_bundle(saved)


def test_fusion_layer_imports_neither_torch_nor_avdetect():
    code = ("import sys, stacking.bundle, stacking.report, stacking.segments, stacking.tables; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'avdetect')]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_a_stacker_without_trees_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 60)
    X = np.c_[2 * y - 1 + rng.normal(size=120), np.ones(120)]
    stacker = LGBMStacker(score_column="voice_embed_logit").fit(X, y, folds=np.arange(120) % 4,
                                                         feature_names=("voice_embed_logit", "has_audio"))
    save_bundle(tmp_path, stacker, aggregate=AggregateConfig())
    assert "no trees" in (tmp_path / BOOSTER).read_text()
    loaded = load_bundle(tmp_path).stacker
    assert loaded.booster_ is None and loaded.score_column == "voice_embed_logit"
    np.testing.assert_array_equal(loaded.predict_proba(X), stacker.predict_proba(X))


def test_bands_by_bin_round_trip_and_choose_by_the_evidence(fitted, tmp_path):
    from stacking.decision import BinnedBand, DecisionBand

    stacker, _ = fitted
    pooled = DecisionBand(low=0.4, high=0.6, max_error=0.2)
    binned = BinnedBand("speech_s", (2.0, 6.0), (DecisionBand(0.1, 0.9, 0.2), DecisionBand(0.3, 0.7, 0.2), pooled))
    save_bundle(tmp_path / "a", stacker, aggregate=AggregateConfig(), band=pooled, binned=binned)
    bundle = load_bundle(tmp_path / "a")
    assert bundle.binned.to_json() == binned.to_json() and bundle.band.to_json() == pooled.to_json()  # NaN facts
    assert bundle.band_for(1.0).low == 0.1 and bundle.band_for(float("nan")).low == 0.1
    assert bundle.band_for(3.0).low == 0.3 and bundle.band_for(6.0).low == 0.4
    save_bundle(tmp_path / "b", stacker, aggregate=AggregateConfig(), band=pooled)  # as every bundle before
    assert load_bundle(tmp_path / "b").binned is None and load_bundle(tmp_path / "b").band_for(1.0).low == 0.4
