"""benchmarks/sync_signals.py: which rows go to which set, and the table it prints."""

from __future__ import annotations

import numpy as np

from bench_scripts import load_benchmark


def load_script():
    return load_benchmark("sync_signals")


def row(path: str, label: str = "FAKE", family: str = "") -> dict[str, str]:
    return {"path": path, "label": label, "family": family}


def test_rows_are_dealt_to_reals_variants_and_generator_sets():
    set_of = load_script().set_of
    assert set_of(row("/d/video/real/a.mp4", "REAL")) == "real"
    assert set_of(row("/d/video/real/a.mp4#shift=+0.40")) == "shift"
    assert set_of(row("/d/video/real/a.mp4#dub=other")) == "dub"
    assert set_of(row("/d/video/real/a.mp4#blend=1")) is None  # a face blend keeps the sync of its source
    assert set_of(row("/d/video/fake/w.mp4", family="wav2lip")) == "lip-sync"
    assert set_of(row("/d/video/fake/s.mp4", family="sadtalker")) == "talking-head"
    assert set_of(row("/d/speech/real/x.flac", "REAL")) is None  # no face, no lip-sync


def test_the_table_names_each_signal_and_set(capsys):
    module = load_script()
    rng = np.random.default_rng(0)
    values = {name: {config: [(abs(rng.normal(shift, 0.05)), rng.normal(0.5 - shift, 0.1)) for _ in range(20)]
                     for config in module.CONFIGS}
              for name, shift in (("real", 0.0), ("shift", 0.5), ("dub", 0.3))}
    module.print_table(values, dict.fromkeys(module.CONFIGS, 0.1))
    out = capsys.readouterr().out
    assert "real 20, shift 20, dub 20" in out
    lines = {line.split(" | ")[0]: line.split(" | ") for line in out.splitlines()[2:]}
    assert set(lines) == set(module.CONFIGS)
    assert lines["both"][3] == "1.00"  # |lag| of every shifted copy is larger than every real one's
