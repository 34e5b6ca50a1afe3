"""Writes video-level pseudo-fakes (`avdetect.corpus.variants`) of a manifest's real videos into its cache."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from avdetect.corpus.cache import CONFIG_NAME, cache_key, is_complete, load_perception, save_perception
from avdetect.corpus.cache_index import cached_paths
from avdetect.corpus.extract import VideoResult, log_result
from avdetect.corpus.manifest import ManifestRow, source_name
from avdetect.corpus.variants import FAKE, Variant, VariantInputs, make_variants
from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig, saved_speech_config
from avdetect.records import Perception


def audio_configs(cache_dir: Path) -> tuple[MelConfig, SpeechConfig]:
    """The mel and speech settings the cache was made with (windows of variants must match)."""
    config = json.loads((cache_dir / CONFIG_NAME).read_text(encoding="utf-8"))["perception"]
    return MelConfig(**config["mel"]), saved_speech_config(config["speech"])


def row_rng(seed: int | str, path: Path) -> np.random.Generator:
    """A generator fixed by the seed and the file's `source_name` (not where it lies), so a rerun makes the
    same variants (and skips them), from any work folder; a seed like ``"gan:0"`` names a stream of its own."""
    digest = hashlib.sha1(f"{seed}:{source_name(path)}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def add_variants(
    rows: list[ManifestRow],
    cache_dir: Path,
    *,
    kinds: list[str],
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[ManifestRow]:
    """Makes the variants of every REAL, cached row; returns the new manifest rows (sources not included).

    Rows of variants already in the cache are returned without redoing them.
    """
    keys = cached_paths(cache_dir)
    done = _journal(cache_dir, seed, kinds)
    mel, speech = audio_configs(cache_dir)
    extractor = MelExtractor(mel)
    donors = _donor_pool(rows, keys, cache_dir)
    taken = {str(r.path) for r in rows}  # a rerun with another seed must not reuse a path
    new_rows: list[ManifestRow] = []
    for row in rows:
        if row.label != "REAL" or str(row.path) not in keys:
            continue
        if str(row.path) in done:
            new_rows.extend(replace(row, path=Path(v["path"]), **_fields(v)) for v in done[str(row.path)])
            continue
        seen = load_perception(cache_dir / f"{keys[str(row.path)]}.npz")
        rng = row_rng(seed, row.path)
        inputs = VariantInputs(_donor(donors, row.group, rng), extractor, speech)
        made = [_store(row, v, cache_dir, _unique(f"{row.path}#{v.tag}", seed, taken))
                for v in make_variants(seen, kinds, rng, inputs)]
        _log_journal(cache_dir, seed, kinds, str(row.path), made)
        new_rows.extend(made)
        if progress:
            progress(str(row.path))
    return new_rows


def _unique(path: str, seed: int, taken: set[str]) -> str:
    if path in taken:
        path = f"{path},seed={seed}"
    taken.add(path)
    return path


def _store(row: ManifestRow, variant: Variant, cache_dir: Path, path: str) -> ManifestRow:
    key = cache_key(path)
    target = cache_dir / f"{key}.npz"
    if not is_complete(target):
        save_perception(target, variant.perception)
        log_result(cache_dir, _result(path, key, variant.perception))
    info = variant.perception.clip.info
    return replace(
        row,
        path=Path(path),
        label=FAKE,
        video_label=variant.video_label if info.has_video else None,
        audio_label=variant.audio_label if info.has_audio else None,
        dataset=f"{row.dataset}+{variant.tag.split('=')[0]}",
        fake_segments=variant.fake_segments,
    )


JOURNAL = "variants.jsonl"  # one line per finished source: a rerun reuses it instead of redoing the work


def _journal(cache_dir: Path, seed: int, kinds: list[str]) -> dict[str, list[dict]]:
    """Source path -> its variant rows, from earlier runs with the same seed and kinds."""
    path = cache_dir / JOURNAL
    if not path.exists():
        return {}
    done = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a kill: that source is redone
            continue
        if entry["seed"] == seed and entry["kinds"] == kinds:
            done[entry["source"]] = entry["rows"]
    return done


def _log_journal(cache_dir: Path, seed: int, kinds: list[str], source: str, rows: list[ManifestRow]) -> None:
    fields = [{"path": str(r.path), "video_label": r.video_label, "audio_label": r.audio_label,
               "dataset": r.dataset, "fake_segments": [list(s) for s in r.fake_segments]} for r in rows]
    entry = {"seed": seed, "kinds": kinds, "source": source, "rows": fields}
    with (cache_dir / JOURNAL).open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry) + "\n")


def _fields(entry: dict) -> dict:
    return {"label": FAKE, "video_label": entry["video_label"], "audio_label": entry["audio_label"],
            "dataset": entry["dataset"], "fake_segments": tuple(tuple(s) for s in entry["fake_segments"])}


def _result(path: str, key: str, seen: Perception) -> VideoResult:
    windows = len(seen.audio.windows.mels) if seen.audio is not None else 0
    return VideoResult(path, key, "ok", n_tracks=len(seen.faces.tracks), n_frames=len(seen.clip.times_s),
                       n_windows=windows)


def _donor_pool(rows: list[ManifestRow], keys: dict[str, str], cache_dir: Path) -> list[tuple[str, np.ndarray]]:
    """(group, speech) of real rows with at least 2 s of speech, read once."""
    pool = []
    for row in rows:
        if row.label != "REAL" or str(row.path) not in keys or row.audio_label == FAKE:
            continue
        seen = load_perception(cache_dir / f"{keys[str(row.path)]}.npz")
        if seen.audio is not None and seen.audio.speech_s >= 2.0:
            start = int(seen.audio.speech_start_s * seen.clip.sample_rate)
            pool.append((row.group, seen.clip.audio[start:]))
    return pool


def _donor(pool: list[tuple[str, np.ndarray]], group: str, rng: np.random.Generator) -> np.ndarray:
    """Speech of another group (never the source's own voice), or (0,) when there is none."""
    others = [audio for g, audio in pool if g != group]
    if not others:
        return np.zeros(0, np.float32)
    return others[int(rng.integers(len(others)))]
