"""benchmarks/voice_by_length.py: calls per band of speech length."""

from __future__ import annotations

import numpy as np

from bench_scripts import load_benchmark


def test_each_band_counts_its_own_voices():
    bench = load_benchmark("voice_by_length")
    seconds = np.array([1.0, 1.5, 3.0, 7.0, 9.0, 2.0])
    labels = np.array([0, 1, 0, 0, 1, 1])
    p_fake = np.array([0.6, 0.9, 0.2, 0.4, 0.3, 0.5])
    table = bench.by_length(seconds, labels, p_fake, edges=(0.0, 2.0, 6.0, np.inf))
    assert [row[0] for row in table] == ["0-2 s", "2-6 s", "6 s or more"]
    assert table[0][1:] == (1, 1.0, 1, 1.0)  # the 2.0 s voice belongs to the next band
    assert table[1][1:] == (1, 0.0, 1, 1.0)
    assert table[2][1:] == (1, 0.0, 1, 0.0)
    assert np.isnan(bench.by_length(seconds, labels, p_fake, edges=(20.0, np.inf))[0][2])  # no voice there


def test_verdict_shares_count_each_class_and_weigh_the_errors_alike():
    bench = load_benchmark("voice_by_length")
    labels = np.array([0, 0, 0, 0, 1, 1])
    verdicts = np.array(["real", "real", "fake", "inconclusive", "fake", "fake"])
    shares = bench.verdict_shares(labels, verdicts)
    assert shares["real real"] == 0.5 and shares["real fake"] == 0.25 and shares["real inconclusive"] == 0.25
    assert shares["fake fake"] == 1.0 and shares["fake real"] == 0.0
    assert np.isclose(shares["fake error"], 0.75 / (0.75 + 3.0))  # a real weighs 0.75, a fake 1.5: 1 of 3 calls
    assert shares["real error"] == 0.0
    assert np.isnan(bench.verdict_shares(labels[:0], verdicts[:0])["fake error"])
