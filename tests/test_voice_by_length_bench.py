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

