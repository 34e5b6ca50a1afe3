"""What the synthetic-speech recipe writes: 16 kHz mono FLAC files and a manifest with generator labels.

The manifest has the standard columns of `avdetect.corpus.manifest` followed by ``generator``,
``family``, ``codec`` and ``settings``, so `read_manifest` reads it as any other manifest (it ignores
columns it does not know) while the labels stay next to each row.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avdetect.corpus.manifest import ManifestRow, check_unique_paths, portable_path

BASE_COLUMNS = ("path", "label", "video_label", "audio_label", "group", "actor", "dataset", "split",
                "fake_segments")
SYNTH_COLUMNS = ("generator", "family", "codec", "settings")


@dataclass(frozen=True)
class SynthRow:
    """A manifest row of the corpus with how its file was made."""

    row: ManifestRow
    generator: str  # the engine, e.g. "hifigan"; empty for a real file
    family: str  # the engine's kind, e.g. "vits"; empty for a real file
    codec: str  # the lossy channel it passed through last (`avdetect.pseudofakes.codecs`), or empty
    settings: str  # the engine's drawn settings as JSON, e.g. '{"voice": "slt", "stretch": 1.1}'


def write_flac(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """Writes float32 (N,) mono `audio` as 16-bit FLAC, atomically: a killed run leaves no half file."""
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    soundfile.write(str(partial), np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="FLAC")
    os.replace(partial, path)


def settings_text(params: dict) -> str:
    """The drawn settings of an output as compact, key-sorted JSON ("" when there are none)."""
    return json.dumps(params, sort_keys=True, separators=(",", ":")) if params else ""


def _format(item: SynthRow, base: Path) -> list[str]:
    row = item.row
    segments = json.dumps([list(s) for s in row.fake_segments]) if row.fake_segments else ""
    return [portable_path(row.path, base), row.label, row.video_label or "", row.audio_label or "", row.group,
            row.actor or "", row.dataset, row.split, segments, item.generator, item.family, item.codec,
            item.settings]


def write_synth_manifest(rows: Iterable[SynthRow], path: Path | str) -> None:
    """Writes `rows` as a manifest CSV with the generator columns, atomically.

    Raises:
        ManifestError: a path is listed twice.
    """
    path = Path(path)
    rows = list(rows)
    check_unique_paths([item.row for item in rows], source=str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    with partial.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(BASE_COLUMNS + SYNTH_COLUMNS)
        writer.writerows(_format(item, path.parent) for item in rows)
    os.replace(partial, path)
