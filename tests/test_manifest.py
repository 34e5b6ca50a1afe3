"""The manifest CSV: round trip, path resolution, and the errors a hand-written manifest can hit."""

from __future__ import annotations

from pathlib import Path

import pytest

from avdetect.corpus.manifest import COLUMNS, ManifestRow, label_counts, parse_segments, read_manifest, write_manifest
from avdetect.errors import InputError, ManifestError

REPO = Path(__file__).parents[1]
HEADER = ",".join(COLUMNS)


def write_text(path: Path, *lines: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_round_trip_keeps_every_field_and_writes_paths_relative_under_the_manifest(tmp_path):
    inside = tmp_path / "data" / "a.mp4"
    outside = Path("/elsewhere/b.mp4")
    rows = [
        ManifestRow(inside, "FAKE", "a", video_label="FAKE", audio_label="REAL", actor="id00001",
                    dataset="lavdf", split="train", fake_segments=((1.2, 1.8), (3.0, 3.5)),
                    generator="wav2lip-gan", family="wav2lip"),
        ManifestRow(outside, "REAL", "b"),
    ]
    manifest = tmp_path / "manifest.csv"
    write_manifest(rows, manifest)

    text = manifest.read_text()
    assert "\ndata/a.mp4," in text and "\n/elsewhere/b.mp4," in text
    assert read_manifest(manifest) == rows


def test_relative_paths_are_read_against_the_manifest_folder(tmp_path):
    manifest = write_text(tmp_path / "sub" / "m.csv", HEADER, "../videos/x.mp4,REAL,,,x,,,,")
    (row,) = read_manifest(manifest)
    assert row.path == tmp_path / "videos" / "x.mp4"
    assert row.path.is_absolute()


def test_labels_are_case_insensitive_and_empty_fields_are_unknown(tmp_path):
    manifest = write_text(tmp_path / "m.csv", HEADER, "x.mp4, fake ,real,,,,,,")
    (row,) = read_manifest(manifest)
    assert (row.label, row.video_label, row.audio_label, row.actor) == ("FAKE", "REAL", None, None)
    assert row.group == "x.mp4"  # no group given: its own
    assert row.fake_segments == ()


def test_fake_segments_generator_and_family_columns_are_optional(tmp_path):
    header = ",".join(COLUMNS[:8])
    manifest = write_text(tmp_path / "m.csv", header, "x.mp4,REAL,,,g,,,")
    (row,) = read_manifest(manifest)
    assert (row.group, row.generator, row.family) == ("g", "", "")


def test_generator_and_family_are_read_in_any_column_order_and_extra_columns_ignored(tmp_path):
    header = "family,path,label,video_label,audio_label,group,actor,dataset,split,codec,generator"
    manifest = write_text(tmp_path / "m.csv", header, "vocoder, a.flac,FAKE,,FAKE,g,,,,mp3, hifigan ")
    (row,) = read_manifest(manifest)
    assert (row.generator, row.family, row.audio_label) == ("hifigan", "vocoder", "FAKE")
    write_manifest([row], tmp_path / "out.csv")
    assert (tmp_path / "out.csv").read_text().splitlines()[0].endswith(",fake_segments,generator,family")


def test_missing_column_is_named(tmp_path):
    manifest = write_text(tmp_path / "m.csv", "path,label,group", "x.mp4,REAL,g")
    with pytest.raises(ManifestError, match="missing column.*video_label"):
        read_manifest(manifest)


def test_unknown_label_gives_line_number_and_valid_labels(tmp_path):
    manifest = write_text(tmp_path / "m.csv", HEADER, "a.mp4,REAL,,,a,,,,", "b.mp4,MAYBE,,,b,,,,")
    with pytest.raises(ManifestError, match=r"line 3.*'MAYBE'.*REAL, FAKE"):
        read_manifest(manifest)


def test_unknown_modality_label_is_an_error(tmp_path):
    manifest = write_text(tmp_path / "m.csv", HEADER, "a.mp4,FAKE,yes,,a,,,,")
    with pytest.raises(ManifestError, match="line 2.*video_label"):
        read_manifest(manifest)


def test_real_label_with_a_fake_modality_is_an_error(tmp_path):
    manifest = write_text(tmp_path / "m.csv", HEADER, "a.mp4,REAL,,FAKE,a,,,,")
    with pytest.raises(ManifestError, match="must be FAKE"):
        read_manifest(manifest)


@pytest.mark.parametrize("segments", ['"[[1, 2]"', '"[1, 2]"', '"[[2, 1]]"', '"[[\'a\', 1]]"'])
def test_bad_fake_segments_are_errors(tmp_path, segments):
    manifest = write_text(tmp_path / "m.csv", HEADER, f"a.mp4,FAKE,,,a,,,,{segments}")
    with pytest.raises(ManifestError, match="line 2"):
        read_manifest(manifest)


def test_parse_segments():
    assert parse_segments("[[0, 1.5], [2, 2.25]]") == ((0.0, 1.5), (2.0, 2.25))
    assert parse_segments("") == parse_segments("[]") == ()


def test_duplicate_paths_are_errors_even_when_spelled_differently(tmp_path):
    manifest = write_text(tmp_path / "m.csv", HEADER, "a.mp4,REAL,,,a,,,,", "./a.mp4,REAL,,,a,,,,")
    with pytest.raises(ManifestError, match="duplicate"):
        read_manifest(manifest)
    with pytest.raises(ManifestError, match="duplicate"):
        write_manifest([ManifestRow(tmp_path / "a.mp4", "REAL", "a")] * 2, tmp_path / "out.csv")


def test_empty_path_is_an_error(tmp_path):
    manifest = write_text(tmp_path / "m.csv", HEADER, "a.mp4,REAL,,,a,,,,", ",FAKE,,,b,,,,")
    with pytest.raises(ManifestError, match="line 3: empty path"):
        read_manifest(manifest)


def test_check_paths_reports_missing_files(tmp_path):
    (tmp_path / "here.mp4").touch()
    manifest = write_text(tmp_path / "m.csv", HEADER, "here.mp4,REAL,,,a,,,,", "gone.mp4,FAKE,,,a,,,,")
    assert len(read_manifest(manifest)) == 2
    with pytest.raises(ManifestError, match="1 listed file.*gone.mp4"):
        read_manifest(manifest, check_paths=True)


def test_missing_manifest_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        read_manifest(tmp_path / "nope.csv")


def test_row_validation():
    with pytest.raises(ManifestError, match="empty group"):
        ManifestRow(Path("/a.mp4"), "REAL", "")
    with pytest.raises(ManifestError, match="unknown label"):
        ManifestRow(Path("/a.mp4"), "real", "a")


def test_label_counts():
    rows = [ManifestRow(Path(f"/{i}.mp4"), label, "g") for i, label in enumerate("REAL FAKE FAKE".split())]
    assert label_counts(rows) == (1, 2)


@pytest.mark.parametrize("name", ["dfdc", "fakeavceleb", "ffpp", "avdeepfake1m", "folder"])
def test_example_manifests_in_data_are_valid(name):
    rows = read_manifest(REPO / "data" / name / "example_manifest.csv")
    assert len(rows) >= 3
    assert {row.label for row in rows} == {"REAL", "FAKE"}


def test_folder_adapter_carries_generator_and_family_from_its_csv(tmp_path):
    from avdetect.corpus.datasets import folder

    for name in ("a.flac", "b.flac"):
        (tmp_path / name).touch()
    listing = write_text(tmp_path / "list.csv", "path,label,generator,family",
                         "a.flac,REAL,,", "b.flac,FAKE,MelGAN,melgan")
    rows = {row.path.name: row for row in folder.prepare(tmp_path, csv=listing)}
    assert (rows["b.flac"].generator, rows["b.flac"].family) == ("MelGAN", "melgan")
    assert (rows["a.flac"].generator, rows["a.flac"].family) == ("", "")
