"""Output writers: round trips in every format, resume after a torn write, refusing files that are not ours."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_batch import videos  # noqa: F401  (a fixture)

from avdetect.errors import OutputError
from avdetect.scoring.scores import ROW_FIELDS, VideoScore, failed
from avdetect.scoring.writers import FORMATS, infer_format, open_writer, read_rows

SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet", "kaggle": ".csv"}


def scores() -> list[VideoScore]:
    return [
        VideoScore(path="a/one, with comma.mp4", status="ok", p_fake=0.91234567, p_visual=0.8, p_audio=0.7,
                   p_sync=0.6, fake_segments=np.array([[1.0, 2.5], [3.25, 4.0]]), n_tracks=2, n_frames=32,
                   duration_s=10.0, seconds=1.5),
        VideoScore(path="b/two.wav", status="ok", p_fake=0.1, p_audio=0.1, n_frames=0, duration_s=2.0),
        failed("c/\u0432\u0438\u0434\u0435\u043e.mp4", "decode_error", "c/видео.mp4: FFmpeg cannot open it", 0.25),
    ]


def write_all(path: Path, fmt: str, items: list[VideoScore]) -> None:
    writer = open_writer(path, fmt)
    for score in items:
        writer.write(score)
    writer.close()


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out{SUFFIX[fmt]}"
    write_all(path, fmt, scores())
    rows = read_rows(path, fmt)
    if fmt == "kaggle":
        assert rows == [{"filename": "one, with comma.mp4", "label": 0.912346}, {"filename": "two.wav", "label": 0.1},
                        {"filename": "видео.mp4", "label": 0.5}]  # failed: 0.5 only because Kaggle needs a number
        assert path.read_text(encoding="utf-8").startswith("filename,label\n")
    else:
        assert rows == [score.row() for score in scores()]
        assert list(rows[0]) == list(ROW_FIELDS)


@pytest.mark.parametrize("fmt", FORMATS)
def test_resume_reads_back_finished_inputs(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out{SUFFIX[fmt]}"
    first, second = scores()[:2], scores()[2:]
    write_all(path, fmt, first)
    writer = open_writer(path, fmt)
    assert set(writer.done) == {writer.key(s.path) for s in first}
    assert writer.key(second[0].path) not in writer.done
    for score in second:
        writer.write(score)
    writer.close()
    assert len(read_rows(path, fmt)) == 3


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "kaggle"])
def test_torn_last_line_is_dropped_and_redone(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out{SUFFIX[fmt]}"
    writer = open_writer(path, fmt)
    for score in scores()[:2]:
        writer.write(score)
    writer.file.close()  # as if killed: parquet's journal is never merged
    line_file = writer.path
    whole = line_file.read_bytes()
    start = whole.rfind(b"\n", 0, len(whole) - 1) + 1  # where the second row begins
    line_file.write_bytes(whole[:start + 7])  # ... and only 7 bytes of it made it to disk
    writer = open_writer(path, fmt)
    assert list(writer.done) == [writer.key(scores()[0].path)]  # the torn second row is not finished
    assert line_file.read_bytes().endswith(b"\n")
    writer.write(scores()[1])
    writer.close()
    rows = read_rows(path, fmt)
    key = "filename" if fmt == "kaggle" else "path"
    assert [r[key] for r in rows] == [writer.key(s.path) for s in scores()[:2]]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_torn_first_line_counts_as_a_fresh_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"out{SUFFIX[fmt]}"
    write_all(path, fmt, scores()[:1])
    path.write_bytes(path.read_bytes()[:5])  # killed inside the very first write
    write_all(path, fmt, scores()[:1])
    assert read_rows(path, fmt) == [scores()[0].row()]


def test_parquet_journal_is_merged_and_extended(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    write_all(path, "parquet", scores()[:1])
    assert path.is_file() and not (tmp_path / "out.parquet.journal.jsonl").exists()
    write_all(path, "parquet", scores()[1:])
    assert [r["path"] for r in read_rows(path, "parquet")] == [s.path for s in scores()]


def test_drop_failed_rewrites_without_failed_rows(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write_all(path, "jsonl", scores())
    writer = open_writer(path, "jsonl")
    assert writer.drop_failed() == [scores()[2].path]
    assert [json.loads(line)["status"] for line in path.read_text().splitlines()] == ["ok", "ok"]
    with pytest.raises(OutputError, match="Kaggle"):
        open_writer(tmp_path / "k.csv", "kaggle").drop_failed()


def test_files_that_are_not_ours_are_refused_untouched(tmp_path: Path) -> None:
    csv_file, jsonl_file, one_line = tmp_path / "user.csv", tmp_path / "user.jsonl", tmp_path / "one.jsonl"
    csv_file.write_text("name,age\nann,3\n")
    jsonl_file.write_text('{"path": "ann"}\n[1, 2]\n')
    one_line.write_text('{"name": "no newline at the end"}')  # torn-looking, but not ours: never cut
    for path, fmt in ((csv_file, "csv"), (csv_file, "kaggle"), (jsonl_file, "jsonl"), (one_line, "jsonl")):
        with pytest.raises(OutputError, match="not an avdetect"):
            open_writer(path, fmt)
    assert csv_file.read_text() == "name,age\nann,3\n" and one_line.read_text().endswith("end\"}")


def test_infer_format() -> None:
    assert infer_format("x.CSV") == "csv" and infer_format("x.ndjson") == "jsonl"
    assert infer_format("x.parquet") == "parquet" and infer_format("x.csv", "kaggle") == "kaggle"
    with pytest.raises(ValueError, match="--format"):
        infer_format("x.txt")


def test_kaggle_submission_and_retry_failed_in_the_command(videos: list[Path], tmp_path: Path,  # noqa: F811
                                                           capsys: pytest.CaptureFixture) -> None:
    from avdetect.cli import main

    late = tmp_path / "late.mp4"
    common = [str(videos[0]), str(late), "--scorer", "test_batch:make_brightness_scorer"]
    assert main(["score", *common, "-o", str(tmp_path / "sub.csv"), "--format", "kaggle"]) == 1
    assert f"input_error: {late}: no such file" in capsys.readouterr().err
    lines = (tmp_path / "sub.csv").read_text().splitlines()
    assert lines[0] == "filename,label" and "late.mp4,0.5" in lines and len(lines) == 3
    out = tmp_path / "scores.jsonl"
    assert main(["score", *common, "-o", str(out)]) == 1
    late.write_bytes(videos[1].read_bytes())  # the missing file turns up: score it again
    assert main(["score", *common, "-o", str(out), "--retry-failed"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["path"], r["status"]) for r in rows) == [(str(late), "ok"), (str(videos[0]), "ok")]
