"""benchmarks/band_check.py: a band chosen on other folds decides each fold; verdict shares and errors."""

from __future__ import annotations

import numpy as np

from bench_scripts import load_benchmark


def test_each_fold_is_decided_by_a_band_chosen_without_it():
    bench = load_benchmark("band_check")
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(300, int), np.ones(300, int)]
    folds = np.tile(np.arange(3), 200)
    p_fake = np.clip(np.r_[rng.normal(0.3, 0.15, 300), rng.normal(0.7, 0.15, 300)], 0, 1)
    p_fake[(folds == 2) & (labels == 1)] -= 0.35  # fold 2's fakes come from a generator the others never show
    verdicts = bench.cross_fitted(labels, p_fake, folds, max_error=0.1)
    assert set(verdicts) <= {"real", "fake", "inconclusive"} and len(verdicts) == 600
    held = (folds == 2) & (labels == 1)
    assert np.mean(verdicts[held] == "real") > 0.3  # the unseen fakes get past a band chosen without them
    assert np.mean(verdicts[(folds != 2) & (labels == 1)] == "real") < 0.1
    one_bin = bench.cross_fitted(labels, p_fake, folds, 0.1, values=np.ones(600), edges=(5.0,))
    assert one_bin.tolist() == verdicts.tolist()  # every row in one bin: the pooled band


def test_verdict_shares_count_each_class_and_weigh_the_errors_alike():
    bench = load_benchmark("band_check")
    labels = np.array([0, 0, 0, 0, 1, 1])
    verdicts = np.array(["real", "real", "fake", "inconclusive", "fake", "fake"])
    shares = bench.verdict_shares(labels, verdicts)
    assert shares["real real"] == 0.5 and shares["real fake"] == 0.25 and shares["real inconclusive"] == 0.25
    assert shares["fake fake"] == 1.0 and shares["fake real"] == 0.0
    assert np.isclose(shares["fake error"], 0.75 / (0.75 + 3.0))  # a real weighs 0.75, a fake 1.5: 1 of 3 calls
    assert shares["real error"] == 0.0
    assert np.isnan(bench.verdict_shares(labels[:0], verdicts[:0])["fake error"])
