"""benchmarks/real_alarms.py: each real video explained by the stacker of the folds that held it out."""

from __future__ import annotations

from bench_scripts import load_benchmark
from test_stacker_table import model_with_table  # noqa: F401  (a fixture)


def test_columns_belong_to_the_extractors_of_the_spec():
    from avdetect.bundle import load_bundle

    owner = load_benchmark("real_alarms").column_blocks(load_bundle().directory)
    assert owner["sync_motion_abs_lag_s"] == "sync_motion" and owner["voice_embed_logit"] == "voice_embed"
    assert {owner[n] for n in owner if n.startswith("vis_")} == {"face_scores"}
    assert set(owner.values()) == set(load_bundle().spec.extractors)


def test_every_real_video_is_explained_once_by_a_fold_that_held_it_out(model_with_table, capsys):  # noqa: F811
    from avdetect.bundle import load_bundle
    from avdetect.training.stacker_table import TABLE_FILE, load_table

    script = load_benchmark("real_alarms")
    data = load_table(load_bundle(model_with_table).stacker / TABLE_FILE)
    rows = script.explain_reals(model_with_table)
    assert len(rows) == int((data.y == 0).sum())
    known = set(load_bundle(model_with_table).spec.extractors) | {"other"}
    assert all(0 <= p <= 1 and {"face_scores", "voice_scores"} <= set(blocks) <= known for _, p, blocks in rows)
    script.main(["--model", str(model_with_table)])
    out = capsys.readouterr().out
    assert f"{len(rows)} real rows" in out and "reals called" in out and "false alarms per dataset" in out
