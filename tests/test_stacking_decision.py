"""The decision band: real / inconclusive / fake, each decided verdict held to its error rate."""

from __future__ import annotations

import numpy as np
import pytest

from stacking.decision import THRESHOLD_ONLY, BinnedBand, DecisionBand, fit_band, fit_binned_band, why


def test_separable_scores_decide_everything_without_error() -> None:
    y = np.array([0] * 50 + [1] * 50)
    p = np.r_[np.linspace(0.05, 0.4, 50), np.linspace(0.6, 0.95, 50)]
    band = fit_band(y, p, max_error=0.05)
    assert band.real_error == 0 and band.fake_error == 0 and band.inconclusive_rate == 0
    assert band.low <= 0.5 <= band.high


def test_overlapping_scores_leave_the_middle_inconclusive_and_meet_the_error_rate() -> None:
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(400, int), np.ones(400, int)]
    p = np.clip(np.r_[rng.normal(0.35, 0.15, 400), rng.normal(0.65, 0.15, 400)], 0, 1)
    band = fit_band(y, p, max_error=0.05)
    assert band.low < 0.5 < band.high and 0 < band.inconclusive_rate < 1
    assert band.real_error <= 0.05 and band.fake_error <= 0.05
    called = band.verdicts(p)
    assert np.mean(y[called == "fake"] == 0) <= 0.05 and np.mean(y[called == "real"] == 1) <= 0.05
    looser = fit_band(y, p, max_error=0.2)
    assert looser.inconclusive_rate < band.inconclusive_rate


def test_nan_is_inconclusive_and_the_band_round_trips_json() -> None:
    band = DecisionBand(low=0.2, high=0.7, max_error=0.05)
    assert band.verdicts(np.array([0.1, 0.5, 0.9, np.nan])).tolist() == ["real", "inconclusive", "fake",
                                                                           "inconclusive"]
    assert DecisionBand.from_json(band.to_json()).to_json() == band.to_json()  # NaN facts travel as null
    assert THRESHOLD_ONLY.verdicts(np.array([0.49, 0.5])).tolist() == ["real", "fake"]


def test_why_names_the_modality_that_pushed_the_verdict() -> None:
    band = DecisionBand(low=0.2, high=0.7, max_error=0.05)
    assert why(0.9, {"face": 0.2, "voice": 0.93, "lip-sync": 0.6}, band) == "voice 0.93, lip-sync 0.60 say fake"
    assert why(0.1, {"face": 0.1, "voice": float("nan")}, band) == "no modality says fake"
    assert why(0.5, {"face": 0.3, "voice": 0.55}, band).startswith("P(fake) 0.50 lies between 0.20 and 0.70")
    never_real = DecisionBand(low=0.0, high=0.54, max_error=0.2)  # a bin whose "real" calls would err too often
    assert why(0.03, {"voice": 0.04}, never_real) == ("P(fake) 0.03 is under 0.54, and nothing here is called real; "
                                                      "highest: voice 0.04")
    assert "nothing here is called fake" in why(0.9, {"voice": 0.9}, DecisionBand(0.3, 1.0 + 1e-9, 0.2))
    assert "nothing here is decided" in why(0.9, {"voice": 0.9}, DecisionBand(0.0, 1.0 + 1e-9, 0.2))


def test_band_held_at_equal_classes_can_call_real_where_fakes_outnumber_reals():
    from stacking.metrics import equal_class_weights

    # 90 fakes, 10 reals; at 0.2 lie all 10 reals and 2 fakes: 17 % fake as the set is, 2.2 % at equal classes
    p = np.r_[np.full(12, 0.2), np.full(88, 0.8)]
    y = np.r_[np.zeros(10), np.ones(90)].astype(int)
    assert fit_band(y, p, max_error=0.05).low == 0.0  # as the set is: never "real"
    band = fit_band(y, p, max_error=0.05, sample_weight=equal_class_weights(y))
    assert 0.2 < band.low <= 0.5 and band.high <= 0.8
    assert np.isclose(band.real_error, (2 * 50 / 90) / (2 * 50 / 90 + 10 * 5.0))
    assert band.inconclusive_rate == 0.0


def test_binned_band_holds_the_error_in_every_bin_where_a_pooled_band_does_not():
    """Short inputs (bin 0) overlap, long ones (bin 1) separate: one band for both meets the error pooled but
    not among the short ones; a band per bin meets it in each, leaving more of the short ones undecided."""
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(400, int), np.ones(400, int), np.zeros(400, int), np.ones(400, int)]
    p = np.clip(np.r_[rng.normal(0.42, 0.15, 400), rng.normal(0.58, 0.15, 400),
                      rng.normal(0.25, 0.1, 400), rng.normal(0.75, 0.1, 400)], 0, 1)
    seconds = np.r_[np.full(800, 1.0), np.full(800, 8.0)]
    seconds[0] = np.nan  # nothing measured: the first bin's
    pooled = fit_band(y, p, max_error=0.1)
    short = seconds < 4
    called = pooled.verdicts(p)
    assert np.mean(y[short & (called == "fake")] == 0) > 0.1  # the pooled band breaks its word on short inputs
    binned = fit_binned_band(y, p, seconds, column="speech_s", edges=(4.0,), max_error=0.1)
    for k, inside in enumerate((short | np.isnan(seconds), seconds >= 4)):
        band = binned.bands[k]
        assert band.n == inside.sum() and band.fake_error <= 0.1 and band.real_error <= 0.1
    assert binned.bands[0].inconclusive_rate > pooled.inconclusive_rate > binned.bands[1].inconclusive_rate
    assert binned.band_for(1.0) is binned.bands[0] and binned.band_for(float("nan")) is binned.bands[0]
    assert binned.band_for(4.0) is binned.bands[1] and binned.bin_name(9.0) == "speech_s 4 or more"
    assert BinnedBand.from_json(binned.to_json()) == binned
    one_by_one = [binned.band_for(v).verdicts(np.array([q]))[0] for v, q in zip(seconds, p)]
    assert binned.verdicts(p, seconds).tolist() == one_by_one
    three = fit_binned_band(y, p, seconds, column="speech_s", edges=(2.0, 4.0), max_error=0.1)
    assert three.bands[1].n == 0 and three.bands[1].verdicts(np.array([0.01, 0.99])).tolist() == ["inconclusive"] * 2
    assert three.bin_name(3.0) == "speech_s 2-4" and three.bin_name(0.5) == "speech_s under 2"
    with pytest.raises(ValueError, match="ascending"):
        fit_binned_band(y, p, seconds, column="speech_s", edges=(4.0, 2.0))
    with pytest.raises(ValueError, match="bands"):
        BinnedBand.from_json({**binned.to_json(), "edges": [2.0, 4.0]})
