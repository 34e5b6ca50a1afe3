"""benchmarks/generalization.py: the generator-held-out table, read from a stacker's OOF table alone."""

from __future__ import annotations

import csv
import math
from dataclasses import replace
from pathlib import Path

import pytest

from avdetect.corpus.manifest import ManifestRow, write_manifest
from bench_scripts import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("generalization")


@pytest.fixture(scope="module")
def fit_blocks():
    return load_benchmark("fit_blocks")


def _write_oof(path: Path, rows: list[tuple[str, int, float]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "fold", "label", "p_fake"])
        writer.writerows([p, fold, "", score] for p, fold, score in rows)


@pytest.fixture
def tables(tmp_path: Path) -> tuple[Path, Path]:
    real = [ManifestRow(tmp_path / f"real{i}.mp4", "REAL", f"g{i}", "REAL", "REAL") for i in range(4)]
    fake = [ManifestRow(tmp_path / f"fake{i}.mp4", "FAKE", f"f{i}", "FAKE", "REAL", generator="w2l",
                        family="lipsync") for i in range(2)]
    write_manifest([*real, *fake], tmp_path / "m.csv")
    scored = [(str(r.path), i % 2, 0.1 + 0.05 * i) for i, r in enumerate(real)]
    scored += [(str(r.path), i % 2, 0.7) for i, r in enumerate(fake)]
    scored += [(f"{real[0].path}#shift=+0.52", 0, 0.9), (f"{real[1].path}#dub=other", 1, 0.05),
               (f"{tmp_path / 'elsewhere.mp4'}#shift=-0.30", 0, 0.9)]  # a variant of no manifest row
    _write_oof(tmp_path / "oof.csv", scored)
    return tmp_path / "m.csv", tmp_path / "oof.csv"


def test_variants_become_one_generator_per_kind_with_folds_from_the_table(bench, tables, capsys):
    manifest, oof = tables
    bench.main(["--modality", "av", "--oof", str(oof), "--manifest", str(manifest), "--hold-out", "family",
                "--variants"])
    out = capsys.readouterr().out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
    assert "1 not in the manifest" in out
    assert lines["lipsync"][1:3] == ["2", "1.000"]
    assert lines["variant:shift"][1:3] == ["1", "1.000"]  # 0.9 above the reals of fold 0 (0.1, 0.2)
    assert lines["variant:dub"][1:3] == ["1", "0.000"]  # 0.05 below the reals of fold 1
    assert lines["reals"][1] == "4"


def test_variant_rows_carry_their_kinds_labels(bench, tables):
    from avdetect.corpus.manifest import read_manifest

    rows = read_manifest(tables[0])
    made = bench.variant_rows(rows, [f"{rows[0].path}#shift=+0.52", f"{rows[1].path}#blend=steady", str(rows[2].path)])
    assert [(r.label, r.video_label, r.audio_label, r.family) for r in made] == [
        ("FAKE", "REAL", "REAL", "variant:shift"), ("FAKE", "FAKE", "REAL", "variant:blend")]
    assert made[0].group == rows[0].group  # a variant stays with its source
    listed = [*rows, replace(rows[0], path=Path(f"{rows[0].path}#shift=+0.52"), family="")]  # as all.csv lists it
    kept = bench.with_variants(listed, [f"{rows[0].path}#shift=+0.52"])
    assert [r.family for r in kept if "#" in str(r.path)] == ["variant:shift"]  # once, as its kind


def test_without_variants_they_are_left_out(bench, tables, capsys):
    manifest, oof = tables
    bench.main(["--modality", "av", "--oof", str(oof), "--manifest", str(manifest), "--hold-out", "family"])
    out = capsys.readouterr().out
    assert "3 not in the manifest" in out and "variant:" not in out


def test_false_alarm_judges_at_the_threshold_the_reals_set(bench, tables, capsys):
    manifest, oof = tables  # reals 0.10, 0.15, 0.20, 0.25; shift 0.9, dub 0.05, lipsync 0.7
    bench.main(["--modality", "av", "--oof", str(oof), "--manifest", str(manifest), "--hold-out", "family",
                "--variants", "--false-alarm", "0.25"])
    out = capsys.readouterr().out
    assert "threshold 0.250: 25% of the reals" in out and ">=0.25" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines()[3:]}
    assert lines["reals"][-1] == "0.250" and lines["lipsync"][-1] == "1.000" and lines["variant:dub"][-1] == "0.000"


def test_a_block_of_log_odds_is_judged_as_probabilities_and_its_nans_left_out(bench, tables, tmp_path, capsys):
    manifest, oof = tables
    with oof.open(newline="", encoding="utf-8") as f:  # the same scores as log-odds, and a row with no value
        rows = [(r["path"], r["fold"], math.log(float(r["p_fake"]) / (1 - float(r["p_fake"]))))
                for r in csv.DictReader(f)]
    block = tmp_path / "voice_embed.csv"
    with block.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("path", "fold", "voice_embed_logit"), *rows, (str(tmp_path / "real3.mp4"), 1, "nan")])
    for args in ([], ["--column", "voice_embed_logit", "--logit"]):
        bench.main(["--modality", "av", "--oof", str(block if args else oof), "--manifest", str(manifest),
                    "--hold-out", "family", "--variants", *args])
        out = capsys.readouterr().out
        lines = {line.split()[0]: line.split() for line in out.splitlines()[2:]}
        assert lines["lipsync"][1:] == ["2", "1.000", "0.000", "0.700", "1.000"]  # mean p 0.7 as in the OOF table
        assert lines["reals"][1] == "4"  # the extra NaN row adds no score: real3 keeps its one value


def test_a_table_without_folds_asks_for_them(bench, tables, tmp_path):
    manifest, _ = tables
    (tmp_path / "bare.csv").write_text(f"path,p_fake\n{tmp_path / 'real0.mp4'},0.1\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no fold column"):
        bench.main(["--modality", "av", "--oof", str(tmp_path / "bare.csv"), "--manifest", str(manifest)])


def test_branch_statistics_join_the_feature_blocks_per_file(fit_blocks, tmp_path):
    """`--branch-oof`: a branch's window scores become per-file columns beside the feature blocks."""
    with (tmp_path / "oof.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["path", "fold", "label", "probability"])
        writer.writerows([["a.wav", 0, 1, 0.2], ["a.wav", 0, 1, 0.6], ["b.wav", 1, 0, 0.1]])
    names, stats = fit_blocks.branch_statistics(tmp_path / "oof.csv")
    assert names[:3] == ["branch_mean", "branch_median", "branch_max"] and names[-1] == "branch_n"
    assert stats["a.wav"][:4].tolist() == pytest.approx([0.4, 0.4, 0.6, 0.2]) and stats["a.wav"][-1] == 2
    block = (["spec_x"], {"a.wav": fit_blocks.np.array([7.0]), "c.wav": fit_blocks.np.array([8.0])})
    joined_names, joined = fit_blocks.join_blocks(block, (names, stats))
    assert joined_names == ["spec_x", *names] and set(joined) == {"a.wav", "b.wav", "c.wav"}
    assert joined["a.wav"][0] == 7.0 and fit_blocks.np.isnan(joined["b.wav"][0])
    assert fit_blocks.np.isnan(joined["c.wav"][1:]).all()
