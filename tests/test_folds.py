"""Leak-proof folds: groups and actors never straddle folds; files; the prepare -> folds CLI."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from avdetect import cli
from avdetect.corpus.folds import (
    FoldRow,
    align_folds,
    assign_folds,
    components,
    fold_holdouts,
    fold_summary,
    merged_holdouts,
    read_folds,
    spread_fakes,
    write_folds,
)
from avdetect.corpus.manifest import ManifestRow, read_manifest, write_manifest
from avdetect.errors import InputError, ManifestError


def random_manifest(rng: np.random.Generator) -> list[ManifestRow]:
    """Random groups of 1-5 files; actors shared across groups (and sometimes within one group);
    the fake rate anywhere from 2 % to 95 %."""
    n_groups = int(rng.integers(3, 60))
    n_actors = int(rng.integers(1, n_groups + 5))
    p_fake = rng.uniform(0.02, 0.95)
    rows = []
    for g in range(n_groups):
        group_actor = f"a{rng.integers(n_actors)}" if rng.random() < 0.6 else None
        for j in range(int(rng.integers(1, 6))):
            actor = group_actor if rng.random() < 0.9 else f"a{rng.integers(n_actors)}"
            label = "FAKE" if rng.random() < p_fake else "REAL"
            rows.append(ManifestRow(Path(f"/d/{g}_{j}.mp4"), label, f"g{g}", actor=actor))
    return rows


def values_in_one_fold(keys: list[str | None], folds: np.ndarray) -> bool:
    seen: dict[str, set[int]] = defaultdict(set)
    for key, fold in zip(keys, folds):
        if key is not None:
            seen[key].add(int(fold))
    return all(len(f) == 1 for f in seen.values())


def test_folds_never_split_a_group_or_an_actor_and_spread_fakes():
    checked = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        rows = random_manifest(rng)
        k = int(rng.integers(2, 6))
        comps = components(rows)
        if len(set(comps)) < k:
            with pytest.raises(ManifestError, match="only .* independent component"):
                assign_folds(rows, k, seed)
            continue
        folds = assign_folds(rows, k, seed)
        checked += 1
        assert folds.shape == (len(rows),) and set(folds) == set(range(k)), seed
        assert values_in_one_fold([r.group for r in rows], folds), seed
        assert values_in_one_fold([r.actor for r in rows], folds), seed
        fake_comps = {c for c, r in zip(comps, rows) if r.label == "FAKE"}
        folds_with_fakes = {int(f) for f, r in zip(folds, rows) if r.label == "FAKE"}
        assert len(folds_with_fakes) == min(k, len(fake_comps)), seed
    assert checked > 100


def test_fake_counts_are_balanced_with_many_small_groups():
    rows = [ManifestRow(Path(f"/d/{i}.mp4"), "FAKE" if i % 4 == 0 else "REAL", f"g{i // 2}")
            for i in range(400)]
    folds = assign_folds(rows, 5, seed=3)
    fakes = np.bincount(folds[[r.label == "FAKE" for r in rows]], minlength=5)
    assert fakes.max() - fakes.min() <= 2
    assert np.bincount(folds).min() >= 70


def test_actor_shared_by_every_group_leaves_one_component():
    rows = [ManifestRow(Path(f"/d/{i}.mp4"), "FAKE" if i % 2 else "REAL", f"g{i}", actor="same")
            for i in range(10)]
    with pytest.raises(ManifestError, match="only 1 independent component.*5 folds"):
        assign_folds(rows, 5)
    with pytest.raises(ValueError, match="at least 2"):
        assign_folds(rows, 1)


def test_seed_is_deterministic_and_changes_the_deal():
    rows = random_manifest(np.random.default_rng(7))
    assert np.array_equal(assign_folds(rows, 3, seed=1), assign_folds(rows, 3, seed=1))
    assert any(not np.array_equal(assign_folds(rows, 3, seed=0), assign_folds(rows, 3, seed=s))
               for s in range(1, 5))


def test_spread_fakes_moves_the_smallest_fake_component_to_a_fold_without_fakes():
    comps = ["a", "a", "b", "c", "d"]
    fakes = np.array([True, True, True, False, False])
    folds = np.array([0, 0, 0, 1, 2])
    moved = spread_fakes(folds, comps, fakes, 3)
    assert set(moved[fakes]) == {0, 1}  # "b" (1 row) moved, "a" stayed
    assert moved[0] == moved[1] == 0


def test_folds_file_round_trip_and_alignment(tmp_path):
    rows = random_manifest(np.random.default_rng(1))
    rows = [ManifestRow(tmp_path / r.path.name, r.label, r.group, actor=r.actor) for r in rows]
    folds = assign_folds(rows, 3)
    write_folds(rows, folds, tmp_path / "folds.csv")
    fold_rows = read_folds(tmp_path / "folds.csv")
    assert [f.path for f in fold_rows] == [r.path for r in rows]
    assert [f.group for f in fold_rows] == components(rows)
    assert np.array_equal(align_folds((r.path for r in rows[::-1]), fold_rows), folds[::-1])
    assert (tmp_path / "folds.csv").read_text().splitlines()[1].startswith("0_0.mp4,")
    with pytest.raises(ManifestError, match="no fold"):
        align_folds([r.path for r in rows] + [tmp_path / "new.mp4"], fold_rows)


def test_read_folds_errors(tmp_path):
    path = tmp_path / "folds.csv"
    with pytest.raises(InputError):
        read_folds(path)
    path.write_text("path,fold\na.mp4,0\n")
    with pytest.raises(ManifestError, match="missing column.*group"):
        read_folds(path)
    path.write_text("path,group,fold\na.mp4,g,0\nb.mp4,g,x\n")
    with pytest.raises(ManifestError, match="line 3.*'x'"):
        read_folds(path)
    path.write_text("path,group,fold\na.mp4,g,0\n./a.mp4,g,1\n")
    with pytest.raises(ManifestError, match="twice"):
        read_folds(path)


def test_fold_summary_counts():
    rows = [ManifestRow(Path(f"/{i}.mp4"), label, g) for i, (label, g) in
            enumerate([("REAL", "a"), ("FAKE", "a"), ("FAKE", "b"), ("REAL", "c")])]
    assert fold_summary(rows, np.array([0, 0, 1, 1])) == [(0, 1, 1, 1), (1, 1, 1, 2)]
    assert FoldRow(Path("/a"), "g", 0).fold == 0


# --- CLI: prepare -> folds ----------------------------------------------------------------------

@pytest.fixture
def main(monkeypatch):
    """cli.main limited to this task's commands, so other commands' imports cannot break it."""
    monkeypatch.setattr(cli, "COMMANDS", {"prepare": "prepare", "folds": "folds"})
    return cli.main


def test_cli_prepare_then_folds_round_trip(tmp_path, main, capsys):
    for i in range(6):
        for name in (f"real/v{i}-real.mp4", f"fake/v{i}-fake.mp4"):
            (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "data" / name).touch()
    manifest, folds_csv = tmp_path / "manifest.csv", tmp_path / "folds.csv"

    assert main(["prepare", "folder", str(tmp_path / "data"), "-o", str(manifest)]) == 0
    assert "12 rows (6 REAL, 6 FAKE), 6 groups" in capsys.readouterr().out
    rows = read_manifest(manifest, check_paths=True)

    assert main(["folds", str(manifest), "-k", "3", "-o", str(folds_csv), "--seed", "2"]) == 0
    out = capsys.readouterr().out
    assert "fold   real   fake  groups" in out and len(out.strip().splitlines()) == 5
    folds = align_folds((r.path for r in rows), read_folds(folds_csv))
    assert np.array_equal(folds, assign_folds(rows, 3, seed=2))
    assert values_in_one_fold([r.group for r in rows], folds)


def test_cli_errors_are_one_line_and_exit_2(tmp_path, main, capsys):
    assert main(["prepare", "dfdc", str(tmp_path), "-o", str(tmp_path / "m.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("avdetect prepare: no metadata.json") and err.count("\n") == 1
    assert main(["prepare", "ffpp", str(tmp_path), "-o", "m.csv", "--csv", "x.csv"]) == 2
    assert "--csv applies to the folder dataset only" in capsys.readouterr().err
    assert main(["folds", str(tmp_path / "none.csv"), "-o", str(tmp_path / "f.csv")]) == 2
    assert capsys.readouterr().err.startswith("avdetect folds: manifest not found")
    assert not (tmp_path / "m.csv").exists()


def test_fakeavceleb_keeps_both_identities_of_a_fake_in_one_fold(tmp_path):
    from avdetect.corpus.datasets import fakeavceleb

    names = ["RealVideo-RealAudio/African/men/id00076/00109.mp4",
             "RealVideo-RealAudio/Asian/women/id00200/00001.mp4",
             "FakeVideo-FakeAudio/Asian/women/id00200/00002_id00076_wav2lip.mp4"]
    names += [f"RealVideo-RealAudio/x/y/id{i:05d}/0000{i}.mp4" for i in range(300, 306)]
    names += [f"FakeVideo-RealAudio/x/y/id{i:05d}/0000{i}_faceswap.mp4" for i in range(300, 306)]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    rows = fakeavceleb.prepare(tmp_path)
    comps = {r.path.parent.name: c for r, c in zip(rows, components(rows))}
    assert comps["id00076"] == comps["id00200"] and comps["id00300"] != comps["id00076"]
    folds = {r.path.parent.name: int(f) for r, f in zip(rows, assign_folds(rows, n_splits=3))}
    assert folds["id00076"] == folds["id00200"]



# --- holding out generators (issue 11) -----------------------------------------------------------

def generator_manifest(rng: np.random.Generator) -> list[ManifestRow]:
    """Real sources of random speakers with vocoder copies (same group and speaker, one generator each,
    sometimes two generators per source), and TTS fakes in their own groups with the voice as actor."""
    n_speakers = int(rng.integers(3, 30))
    vocoders = [f"voc{i}" for i in range(int(rng.integers(1, 5)))]
    tts = [f"tts{i}" for i in range(int(rng.integers(1, 6)))]
    rows = []
    for g in range(int(rng.integers(5, 60))):
        speaker = f"s{rng.integers(n_speakers)}"
        rows.append(ManifestRow(Path(f"/r/{g}.flac"), "REAL", f"g{g}", actor=speaker))
        for j, gen in enumerate(rng.choice(vocoders, size=int(rng.integers(0, min(3, len(vocoders) + 1))), replace=False)):
            rows.append(ManifestRow(Path(f"/v/{g}_{j}.flac"), "FAKE", f"g{g}", actor=speaker,
                                    generator=str(gen), family="vocoder"))
    for i in range(int(rng.integers(0, 40))):
        gen = str(rng.choice(tts))
        rows.append(ManifestRow(Path(f"/t/{i}.flac"), "FAKE", f"t{i}", actor=f"voice-{gen}", generator=gen,
                                family="tts"))
    return rows


def test_hold_out_keeps_generators_groups_and_speakers_whole_and_both_classes_in_every_fold():
    checked = 0
    for seed in range(300):
        rng = np.random.default_rng(seed)
        rows = generator_manifest(rng)
        k = int(rng.integers(2, 5))
        comps = np.array(components(rows, "generator"), dtype=object)
        fakes = np.array([r.label == "FAKE" for r in rows])
        if len(set(comps[fakes])) < k or len(set(comps)) < k:
            with pytest.raises(ManifestError, match="only"):
                assign_folds(rows, k, seed, hold_out="generator")
            continue
        folds = assign_folds(rows, k, seed, hold_out="generator")
        checked += 1
        assert set(folds) == set(range(k)), seed
        for key in ("group", "actor", "generator"):
            assert values_in_one_fold([getattr(r, key) or None for r in rows], folds), (seed, key)
        assert set(folds[fakes]) == set(range(k)), seed  # every fold holds fakes
        if len(set(comps[~fakes]) - set(comps[fakes])) >= k:  # enough real-only components
            assert set(folds[~fakes]) == set(range(k)), seed
    assert checked > 100


def test_hold_out_does_not_pile_the_reals_that_come_with_fakes_into_one_fold():
    """Vocoder copies bring their real sources along: two such components must not share a fold because
    each has fewer fakes than a fold already holding many."""
    def fake(i, family, group):
        return ManifestRow(Path(f"/d/{family}{i}.wav"), "FAKE", group, audio_label="FAKE", generator=family,
                           family=family)

    rows = [fake(i, "tts", f"t{i}") for i in range(20)]
    for family, n_fake in (("hifigan", 10), ("griffinlim", 9)):  # each copies 20 real utterances
        rows += [fake(i, family, family) for i in range(n_fake)]
        rows += [ManifestRow(Path(f"/d/real-{family}{i}.wav"), "REAL", family, audio_label="REAL") for i in range(20)]
    folds = assign_folds(rows, 2, 0, hold_out="family")
    reals = np.array([r.label == "REAL" for r in rows])
    assert np.bincount(folds[reals], minlength=2).tolist() == [20, 20]
    assert np.bincount(folds[~reals], minlength=2).tolist() == [29, 10]  # the TTS fakes go with one of them


def test_hold_out_merges_generators_that_share_a_source_and_says_so(tmp_path):
    rows = [ManifestRow(Path(f"/r/{g}.flac"), "REAL", f"g{g}") for g in range(6)]
    rows += [ManifestRow(Path("/v/0a.flac"), "FAKE", "g0", generator="hifigan", family="vocoder"),
             ManifestRow(Path("/v/0b.flac"), "FAKE", "g0", generator="world", family="vocoder")]
    rows += [ManifestRow(Path(f"/t/{i}.flac"), "FAKE", f"t{i}", generator=f"tts{i % 2}", family="tts")
             for i in range(4)]
    assert merged_holdouts(rows, "generator") == [("hifigan", "world")]
    assert merged_holdouts(rows, "family") == []
    folds = assign_folds(rows, 3, hold_out="generator")
    held = fold_holdouts(rows, folds, "generator")
    assert sorted(map(tuple, held)) == [("hifigan", "world"), ("tts0",), ("tts1",)]
    with pytest.raises(ManifestError, match="only 2 component.*family.*-k 2"):
        assign_folds(rows, 3, hold_out="family")
    with pytest.raises(ValueError, match="valid: generator, family"):
        assign_folds(rows, 3, hold_out="actor")
    write_folds(rows, folds, tmp_path / "f.csv", hold_out="generator")
    assert {f.group for f in read_folds(tmp_path / "f.csv") if f.path.name == "0a.flac"} == {"generator:hifigan"}


def test_cli_folds_hold_out_prints_generators_and_merges(tmp_path, main, capsys):
    rows = [ManifestRow(tmp_path / f"r{g}.flac", "REAL", f"g{g}") for g in range(4)]
    rows += [ManifestRow(tmp_path / "a.flac", "FAKE", "g0", generator="A"),
             ManifestRow(tmp_path / "b.flac", "FAKE", "g0", generator="B"),
             ManifestRow(tmp_path / "c.flac", "FAKE", "c", generator="C")]
    write_manifest(rows, tmp_path / "m.csv")
    assert main(["folds", str(tmp_path / "m.csv"), "-k", "2", "--hold-out", "generator",
                 "-o", str(tmp_path / "f.csv")]) == 0
    out = capsys.readouterr().out
    assert "held out (generator)" in out and "A, B" in out
    assert "held out together (they share sources, speakers or actors): A + B" in out
