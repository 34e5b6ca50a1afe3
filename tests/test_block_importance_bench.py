"""benchmarks/block_importance.py: gain shares per feature block, on the shipped model and on a toy report."""

from __future__ import annotations

import pytest

from bench_scripts import load_benchmark


def test_shares_sum_columns_by_block_and_keep_unknown_columns():
    bench = load_benchmark("block_importance")
    shares = bench.block_shares({"a1": 3.0, "a2": 1.0, "b1": 4.0, "loose": 2.0}, {"a": ["a1", "a2"], "b": ["b1"]})
    assert shares == pytest.approx({"a": 0.4, "b": 0.4, "other": 0.2})
    assert list(shares)[-1] == "other"  # largest first


def test_shipped_model_prints_both_stackers(capsys):
    assert load_benchmark("block_importance").main([]) == 0
    out = capsys.readouterr().out
    assert "video stacker" in out and "voice stacker" in out and "face_spectrum" in out
