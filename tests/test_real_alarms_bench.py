"""benchmarks/real_alarms.py: each real video explained by the stacker of the folds that held it out."""

from __future__ import annotations

from bench_scripts import load_benchmark
from test_stacker_table import model_with_table  # noqa: F401  (a fixture)


def test_block_of_reads_the_longest_prefix():
    script = load_benchmark("real_alarms")
    assert [script.block_of(n) for n in ("sync_motion_abs_lag_s", "sync_best_lag_s", "vis_max_mean", "n_tracks")] == [
        "sync_motion", "sync", "vis", "other"]


def test_every_real_video_is_explained_once_by_a_fold_that_held_it_out(model_with_table, capsys):  # noqa: F811
    from avdetect.bundle import load_bundle
    from avdetect.training.stacker_table import TABLE_FILE, load_table

    script = load_benchmark("real_alarms")
    data = load_table(load_bundle(model_with_table).stacker / TABLE_FILE)
    rows = script.explain_reals(model_with_table)
    assert len(rows) == int((data.y == 0).sum())
    known = {prefix.rstrip("_") for prefix in script.BLOCKS} | {"other"}
    assert all(0 <= p <= 1 and {"vis", "aud"} <= set(blocks) <= known for _, p, blocks in rows)
    script.main(["--model", str(model_with_table)])
    out = capsys.readouterr().out
    assert f"{len(rows)} real rows" in out and "reals called" in out and "false alarms per dataset" in out
