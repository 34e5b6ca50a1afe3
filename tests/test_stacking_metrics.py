"""Detection metrics on hand-checked cases, by group, and the report's charts."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from stacking.metrics import accuracy, auc, by_group, ece, eer, format_table, log_loss, reliability_curve, summarize
from stacking.plots import bars_png
from stacking.report import score_plots


def test_perfect_and_useless_scores():
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert eer(y, np.array([0.1, 0.2, 0.8, 0.9])) == 0.0
    assert auc(y, np.full(4, 0.5)) == 0.5
    assert eer(y, np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert np.isnan(auc(np.ones(3), np.ones(3))) and np.isnan(eer(np.ones(3), np.ones(3)))


def test_log_loss_is_clipped_and_exact():
    assert log_loss(np.array([1]), np.array([0.0])) == pytest.approx(-np.log(1e-6))
    assert log_loss(np.array([1, 0]), np.array([0.8, 0.4])) == pytest.approx(-(np.log(0.8) + np.log(0.6)) / 2)


def test_ece_and_reliability_curve():
    y = np.array([0, 1, 0, 1, 1, 1])
    p = np.array([0.5, 0.5, 0.5, 0.5, 0.95, 0.95])  # bin of 0.5: rate 0.5; bin of 0.95: rate 1
    assert ece(y, p) == pytest.approx((4 * 0.0 + 2 * 0.05) / 6)
    mean_p, rate, counts = reliability_curve(y, p)
    assert counts.sum() == 6 and len(counts) == 15 and counts[14] == 2
    assert rate[7] == 0.5 and np.isnan(rate[0])
    assert ece(np.array([1]), np.array([1.0])) == 0.0  # p = 1 falls in the last bin


def test_summary_by_group_and_table():
    y = np.array([0, 1, 0, 1, 1])
    p = np.array([0.2, 0.7, 0.6, 0.9, np.nan])
    m = summarize(y, p)
    assert (m.n, m.n_fake, m.n_missing) == (4, 2, 1)
    assert m.accuracy == accuracy(y[:4], p[:4]) == 0.75
    groups = by_group(y, p, ["a", "a", "b", "b", "b"])
    assert set(groups) == {"a", "b"} and groups["b"].n == 2 and groups["a"].auc == 1.0
    text = format_table(groups)
    assert "AUC" in text.splitlines()[0] and len(text.splitlines()) == 3


def test_charts_are_pngs(tmp_path):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.4 + rng.random(200) * 0.6, 0, 1)
    paths = score_plots(tmp_path, {"a": (y, p), "b": (y, rng.random(200))}, calibrated="a")
    paths.append(bars_png(tmp_path / "bars.png", ["x", "y", "z"], [3.0, 1.0, 0.0], title="gain"))
    for path in paths:
        with Image.open(path) as image:
            assert image.format == "PNG" and image.size[0] > 100
            low, high = image.convert("L").getextrema()
            assert low < 100 and high == 255  # something dark was drawn on white


def test_equal_classes_measures_calibration_at_the_prior_a_balanced_stacker_assumes():
    from stacking.metrics import equal_class_weights

    # 9 fakes to 1 real, all at p = 0.5: right for equal classes, 0.4 off for this set's 90 % of fakes
    y, p = np.array([1] * 90 + [0] * 10), np.full(100, 0.5)
    w = equal_class_weights(y)
    assert np.isclose(w[y == 1].sum(), w[y == 0].sum()) and np.isclose(w.sum(), len(y))
    as_is, equal = summarize(y, p), summarize(y, p, equal_classes=True)
    assert np.isclose(as_is.ece, 0.4) and np.isclose(equal.ece, 0.0)
    assert np.isclose(equal.log_loss, np.log(2)) and equal.n == as_is.n == 100
    y2, p2 = np.array([1, 1, 1, 0]), np.array([0.9, 0.8, 0.3, 0.6])
    assert summarize(y2, p2, equal_classes=True).auc == summarize(y2, p2).auc  # a rank measure
