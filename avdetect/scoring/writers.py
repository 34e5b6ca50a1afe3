"""Output rows of `avdetect score` in csv, jsonl, parquet or Kaggle submission form, resumable.

Every row is written and flushed as its input finishes, so a crash or ``kill -9`` loses at most the line
being written. Opening an existing output reads it back: its inputs count as finished and are skipped,
and a torn last line (no newline at the end) is cut off, so that input is scored again. Parquet cannot
grow row by row: its rows go to a jsonl journal next to it (``OUT.journal.jsonl``) and become the parquet
file on `close`; the journal, while it exists, is the truth.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from pathlib import Path

from avdetect.errors import OutputError
from avdetect.scoring.scores import ROW_FIELDS, VideoScore

log = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl", "parquet", "kaggle")
SUFFIX_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet"}
KAGGLE_FIELDS = ("filename", "label")
KAGGLE_FAILED_LABEL = 0.5  # Kaggle needs a number for every file; the failure still shows in stderr and exit
FLOAT_FIELDS = ("p_fake", "p_visual", "p_audio", "p_sync", "duration_s", "seconds")
INT_FIELDS = ("n_tracks", "n_frames")


def infer_format(path: str | os.PathLike, fmt: str | None = None) -> str:
    """`fmt` when given, else the format of the output's suffix.

    Raises:
        ValueError: unknown format, or no format given and an unknown suffix.
    """
    fmt = fmt or SUFFIX_FORMATS.get(Path(path).suffix.lower())
    if fmt not in FORMATS:
        raise ValueError(f"cannot tell the format of {path}: give --format, one of {', '.join(FORMATS)}")
    return fmt


def open_writer(path: str | os.PathLike, fmt: str) -> RowWriter:
    """The writer of `fmt` on `path`, with the rows already there read back.

    Raises:
        OutputError: `path` exists and is not an output of that format.
        ValueError: unknown `fmt`.
    """
    writers = {"csv": CsvWriter, "jsonl": JsonlWriter, "parquet": ParquetWriter, "kaggle": KaggleWriter}
    if fmt not in writers:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return writers[fmt](Path(path))


def read_rows(path: str | os.PathLike, fmt: str) -> list[dict]:
    """The rows of an output file, typed as `VideoScore.row()` makes them (Kaggle: filename, label)."""
    if fmt == "parquet":
        return _read_parquet(Path(path))
    writers = {"csv": CsvWriter, "jsonl": JsonlWriter, "kaggle": KaggleWriter}
    return writers[fmt](Path(path), repair=False).rows


class RowWriter:
    """Appends rows to a line-based file. Subclasses say how a row becomes a line and back."""

    fmt = ""  # the format's name, for messages
    header: tuple[str, ...] | None = None  # first line of the file, for csv-like formats
    key_field = "path"  # the field that names the input

    def __init__(self, path: Path, *, repair: bool = True) -> None:
        self.path, self.file = path, None
        self.rows: list[dict] = self._read_back(repair)

    @property
    def done(self) -> dict[str, str]:
        """Key of each finished input -> its status ("" where the format does not keep it)."""
        return {row[self.key_field]: row.get("status", "") for row in self.rows}

    def key(self, path: str) -> str:
        """The name an input goes by in this output."""
        return path

    def write(self, score: VideoScore) -> None:
        """Appends the row of `score` and flushes it to the operating system."""
        if self.file is None:
            self.file = self._open()
        row = self.to_row(score)
        self.file.write(self.format(row))
        self.file.flush()
        self.rows.append(row)

    def drop_failed(self) -> list[str]:
        """Removes the rows whose status is not "ok" (rewriting the file); returns their keys."""
        dropped = [row[self.key_field] for row in self.rows if row.get("status", "ok") != "ok"]
        self.rows = [row for row in self.rows if row.get("status", "ok") == "ok"]
        if dropped:
            self._rewrite()
        return dropped

    def close(self) -> None:
        if self.file is not None:
            os.fsync(self.file.fileno())
            self.file.close()
            self.file = None

    def to_row(self, score: VideoScore) -> dict:
        return score.row()

    def format(self, row: dict) -> str:
        raise NotImplementedError

    def parse(self, lines: list[str]) -> list[dict]:
        raise NotImplementedError

    def _open(self) -> io.TextIOWrapper:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        file = open(self.path, "a", encoding="utf-8", newline="")
        if fresh and self.header:
            file.write(_csv_line(self.header))
        return file

    def _read_back(self, repair: bool) -> list[dict]:
        """The rows already in the file; a torn last line is left out (and cut off the file if `repair`)."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return []
        data = self.path.read_bytes()
        whole = data.rfind(b"\n") + 1
        if not self._looks_ours(data.split(b"\n", 1)[0].decode("utf-8", errors="replace"), whole > 0):
            raise OutputError(f"{self.path} exists and is not an avdetect {self.fmt} output;"
                              " choose another output or move it away")
        if whole < len(data) and repair:
            with open(self.path, "rb+") as file:
                file.truncate(whole)
            log.warning("%s: dropped a torn last line (an interrupted write); that input is scored again", self.path)
        lines = data[:whole].decode("utf-8", errors="replace").split("\n")[:-1]
        return self.parse(lines[1:] if self.header else lines)

    def _looks_ours(self, first: str, complete: bool) -> bool:
        """Whether a file's first line is what this writer writes first (a torn one: its beginning)."""
        expected = _csv_line(self.header).rstrip("\n") if self.header else '{"path": '
        if not complete:
            return expected.startswith(first) or (not self.header and first.startswith(expected))
        return first == expected if self.header else first.startswith(expected)

    def _rewrite(self) -> None:
        self.close()
        tmp = self.path.with_name(self.path.name + ".tmp")
        text = (_csv_line(self.header) if self.header else "") + "".join(self.format(r) for r in self.rows)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path)  # atomic: a crash leaves the old file or the new one


class JsonlWriter(RowWriter):
    """One JSON object a line; NaN probabilities are null."""

    fmt = "jsonl"
    def format(self, row: dict) -> str:
        return json.dumps(row, allow_nan=False) + "\n"

    def parse(self, lines: list[str]) -> list[dict]:
        rows = []
        for number, line in enumerate(lines, 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict) or "path" not in row or "status" not in row:
                raise OutputError(f"{self.path}:{number} is not an avdetect row; choose another output or move it away")
            rows.append(row)
        return rows


class CsvWriter(RowWriter):
    """ROW_FIELDS as columns; empty cells for missing probabilities; fake_segments as a JSON list."""

    fmt, header = "csv", ROW_FIELDS

    def format(self, row: dict) -> str:
        return _csv_line([_cell(row[name]) for name in ROW_FIELDS])

    def parse(self, lines: list[str]) -> list[dict]:
        return [_typed(dict(zip(ROW_FIELDS, cells))) for cells in csv.reader(lines) if len(cells) == len(ROW_FIELDS)]


class KaggleWriter(RowWriter):
    """``filename,label`` as DFDC submissions: the file's name and p_fake, 0.5 where scoring failed."""

    fmt, header = "kaggle", KAGGLE_FIELDS
    key_field = "filename"

    def key(self, path: str) -> str:
        return os.path.basename(path)

    def to_row(self, score: VideoScore) -> dict:
        p_fake = score.row()["p_fake"]
        return {"filename": self.key(score.path), "label": KAGGLE_FAILED_LABEL if p_fake is None else p_fake}

    def format(self, row: dict) -> str:
        return _csv_line([row["filename"], row["label"]])

    def parse(self, lines: list[str]) -> list[dict]:
        return [{"filename": cells[0], "label": float(cells[1])} for cells in csv.reader(lines) if len(cells) == 2]

    def drop_failed(self) -> list[str]:
        raise OutputError("a Kaggle submission does not record which inputs failed; rerun into csv or jsonl "
                          "to retry them")


class ParquetWriter(JsonlWriter):
    """Rows go to a jsonl journal as they finish; `close` turns the journal into the parquet file."""

    fmt = "parquet journal"
    def __init__(self, path: Path, *, repair: bool = True) -> None:
        _arrow()  # fail now, not after hours of scoring, if pyarrow is missing
        self.parquet = path
        journal = path.with_name(path.name + ".journal.jsonl")
        if not journal.exists() and path.exists():  # a finished run being extended: start from its rows
            seed = _read_parquet(path)
            journal.write_text("".join(json.dumps(row, allow_nan=False) + "\n" for row in seed), encoding="utf-8")
        super().__init__(journal, repair=repair)

    def close(self) -> None:
        super().close()
        if not self.path.exists():
            return
        pa, pq = _arrow()
        tmp = self.parquet.with_name(self.parquet.name + ".tmp")
        pq.write_table(pa.Table.from_pylist(self.rows, schema=_schema(pa)), tmp)
        os.replace(tmp, self.parquet)
        self.path.unlink()


def _csv_line(cells: list | tuple) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def _cell(value: object) -> object:
    return json.dumps(value) if isinstance(value, list) else "" if value is None else value


def _typed(row: dict) -> dict:
    """A csv row with the types of `VideoScore.row()`."""
    for name in FLOAT_FIELDS:
        row[name] = float(row[name]) if row[name] != "" else None
    for name in INT_FIELDS:
        row[name] = int(row[name])
    row["fake_segments"] = json.loads(row["fake_segments"] or "[]")
    return row


def _arrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise OutputError("parquet output needs pyarrow: pip install pyarrow (or use csv or jsonl)") from None
    return pa, pq


def _schema(pa):
    types = {"path": pa.string(), "fake_segments": pa.list_(pa.list_(pa.float64())), "status": pa.string(),
             "error": pa.string(), "verdict": pa.string(), "why": pa.string(),
             **{f: pa.float64() for f in FLOAT_FIELDS}, **{f: pa.int64() for f in INT_FIELDS}}
    return pa.schema([(name, types[name]) for name in ROW_FIELDS])


def _read_parquet(path: Path) -> list[dict]:
    pa, pq = _arrow()
    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as err:
        raise OutputError(f"{path} exists and is not a readable parquet file ({err}); choose another output") from err
