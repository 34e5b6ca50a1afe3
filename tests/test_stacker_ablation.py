"""benchmarks/stacker_ablation.py: one refit per setting, judged per held-out family."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from avdetect.corpus.manifest import FAKE, REAL, ManifestRow, write_manifest
from bench_scripts import load_benchmark
from test_stacker_table import _table_for, model_with_table, put_table  # noqa: F401  (a fixture)


def load_script():
    return load_benchmark("stacker_ablation")


def test_prints_a_row_per_setting(model_with_table, tmp_path, capsys):  # noqa: F811
    from avdetect.bundle import load_bundle

    data = _table_for(load_bundle(model_with_table).spec.features)
    rows = [ManifestRow(Path(v), FAKE if y else REAL, f"g{i // 2}", video_label=FAKE if y else REAL,
                        audio_label=REAL, dataset="d", family=("swap", "clone")[i % 4 // 2] if y else "")
            for i, (v, y) in enumerate(zip(data.table.videos, data.y))]
    write_manifest(rows, tmp_path / "all.csv")
    families = np.array([r.family or "real" for r in rows])
    put_table(model_with_table, replace(data, groups={"family": families}))
    load_script().main(["--model", str(model_with_table), "--manifest", str(tmp_path / "all.csv"),
                        "--setting", "plain=", "--setting", "families=--family-balance 1"])
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[:3] == ["setting", "AUC", "ECE"]
    assert [line.split()[0] for line in out[2:]] == ["plain", "families"]
    assert all(0.5 < float(line.split()[1]) <= 1 for line in out[2:])  # the fakes' first columns are higher


def test_refits_start_from_the_models_own_settings():
    script = load_script()
    fit = {"seed": 3, "balance": None, "family_balance": 0.5, "calibration": "platt", "max_error": 0.2,
           "booster": {"n_estimators": 400, "learning_rate": 0.05}, "monotone": "evidence"}
    assert script.fitted_options(fit) == [
        "--seed", "3", "--calibration", "platt", "--family-balance", "0.5", "--monotone", "evidence",
        "--no-balance", "--max-error", "0.2", "--booster", "n_estimators=400,learning_rate=0.05"]
    del fit["monotone"]  # a model fitted before the option had no constraints
    assert script.fitted_options(fit)[6:8] == ["--monotone", "none"]


def test_default_settings_leave_out_only_the_blocks_the_model_has():
    from avdetect.features.registry import get_extractor

    script = load_script()
    settings = script.default_settings(["vis_max_mean", *get_extractor("face_motion").names])
    assert [name for name in settings if name.startswith("without")] == ["without face_motion"]
    assert settings["branch scores and hand-made sync only"] == settings["without face_motion"]
    assert not any(name.startswith("without") or name.startswith("branch") for name in script.default_settings(["x"]))
