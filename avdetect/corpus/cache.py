"""The extraction cache: one ``.npz`` per video holding its `Perception`, plus the folder's logs.

Layout of a cache folder::

    CACHE/config.json        the resolved perception config; a cache never mixes two configs
    CACHE/<key>.npz          one video (see `cache_key`); written atomically via <key>.<pid>.tmp.npz
    CACHE/index.csv          path,key,status,n_tracks,n_frames,n_windows,seconds: a row per finished
                             video, appended as it finishes; the last row of a path wins
    CACHE/failures.csv       path,error,reason: a row per failed attempt

An ``.npz`` holds every array of the record tree under a dotted key (``faces.tracks.0.crops``) and
one JSON string, ``__meta__``, with the tree's structure, scalars and strings. The encoding is
generic over dataclass fields, so a field added to `avdetect.records` round-trips unchanged. Only
record classes of `avdetect.records` are rebuilt and files load with ``allow_pickle=False``: a cache
file never runs code. Two things differ from the live record, both noted in the meta: the big
decoded images are dropped (``DROPPED``: ``clip.frames`` and ``clip.luma`` load as empty arrays; the
meta keeps their shapes) and ``clip.audio`` is stored as int16 PCM (exact for 16-bit sources, within
1/65536 otherwise), so the audio branch can still augment and re-vocode it.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from avdetect import records
from avdetect.errors import CacheError
from avdetect.records import Perception

FORMAT = 1  # bump when the layout of a cache file changes
CONFIG_NAME, INDEX_NAME, FAILURES_NAME = "config.json", "index.csv", "failures.csv"
INDEX_COLUMNS = ("path", "key", "status", "n_tracks", "n_frames", "n_windows", "seconds")
FAILURE_COLUMNS = ("path", "error", "reason")
META_KEY = "__meta__"
AUDIO_KEY = "clip.audio"
FRAMES_KEY = "clip.frames"
# Stored empty, as records say "none": the sampled frames (42 MB for 32 frames of 768x576) and the
# dense luma (55 MB for 20 s). Training needs only what was cut from them: face crops, mouth tracks.
DROPPED = {FRAMES_KEY: (0, 0, 0, 3), "clip.luma": (0, 0, 0)}
PCM_SCALE = 32768.0  # int16 full scale, as FFmpeg converts s16 <-> float
RECORD_TYPES = {name: obj for name, obj in vars(records).items()
                if isinstance(obj, type) and dataclasses.is_dataclass(obj)}


@dataclasses.dataclass(frozen=True)
class CacheMeta:
    """What a cache file says about itself, besides the record."""

    format: int  # `FORMAT` of the writer
    dropped: dict[str, tuple[int, ...]]  # array key -> shape it had; stored empty (see `DROPPED`)
    audio_encoding: str  # "pcm16": clip.audio is stored as int16 and scaled back to float32
    keys: tuple[str, ...]  # array keys the file must hold

    @property
    def frames_dropped(self) -> bool:
        """True when clip.frames was not stored (the loaded clip has (0, 0, 0, 3) frames)."""
        return FRAMES_KEY in self.dropped


def cache_key(path: str | os.PathLike) -> str:
    """Stable file name (no suffix) of a video's cache entry: 16 hex of sha1(resolved path) + stem.

    The hash keeps names unique (``a/clip.mp4`` and ``b/clip.mp4``); the stem keeps them readable.
    """
    resolved = Path(path).resolve()
    digest = hashlib.sha1(str(resolved).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", resolved.stem).strip("._")[:48]
    return f"{digest}_{stem}" if stem else digest


def save_perception(path: str | os.PathLike, perception: Perception, *,
                    drop: Mapping[str, tuple[int, ...]] = DROPPED) -> None:
    """Writes ``perception`` to ``path`` (an ``.npz``) atomically, without the arrays named in ``drop``.

    The file appears complete or not at all: it is written as ``<name>.<pid>.tmp.npz`` (the pid keeps
    two writers apart) and renamed into place.

    Args:
        path: the file to write.
        perception: the record.
        drop: array key -> the empty shape stored instead; the shapes they had go into the meta.
    """
    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    tree = encode_tree(perception, "", arrays)
    dropped = {key: list(arrays[key].shape) for key in drop if key in arrays}
    for key in dropped:
        arrays[key] = np.zeros(drop[key], arrays[key].dtype)
    arrays[AUDIO_KEY] = to_pcm16(arrays[AUDIO_KEY])
    meta = {"format": FORMAT, "dropped": dropped, "audio_encoding": "pcm16", "tree": tree}
    arrays[META_KEY] = np.array(json.dumps(meta))
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:  # disk full, Ctrl-C: no half file left behind (kill -9 leaves one: see extract)
        tmp.unlink(missing_ok=True)
        raise


def load_perception(path: str | os.PathLike) -> Perception:
    """Reads a `Perception` written by `save_perception`; never unpickles.

    Raises:
        CacheError: the file is missing, truncated, or not a cache file of this format.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = _parse_meta(data, path)
            arrays = {key: data[key] for key in data.files if key != META_KEY}
        arrays[AUDIO_KEY] = from_pcm16(arrays[AUDIO_KEY])
        perception = decode_tree(meta["tree"], arrays)
    except CacheError:
        raise
    except (OSError, EOFError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise CacheError(f"{path}: unreadable cache file ({type(err).__name__}: {err}); delete it to redo") from None
    if not isinstance(perception, Perception):
        raise CacheError(f"{path}: holds a {type(perception).__name__}, not a Perception")
    return perception


def read_cache_meta(path: str | os.PathLike) -> CacheMeta:
    """Reads only the meta of a cache file and checks that every array it names is there.

    This is the cheap completeness check: a truncated file has lost its zip directory (at the end).

    Raises:
        CacheError: as `load_perception`.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = _parse_meta(data, path)
            present = set(data.files)
    except CacheError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as err:
        raise CacheError(f"{path}: unreadable cache file ({type(err).__name__}: {err})") from None
    keys = tuple(array_keys(meta["tree"]))
    missing = [key for key in keys if key not in present]
    if missing:
        raise CacheError(f"{path}: missing array(s) {missing[:3]}")
    dropped = {key: tuple(shape) for key, shape in meta["dropped"].items()}
    return CacheMeta(format=meta["format"], dropped=dropped, audio_encoding=meta["audio_encoding"], keys=keys)


def is_complete(path: str | os.PathLike) -> bool:
    """True when ``path`` is a cache file of this format with all its arrays (see `read_cache_meta`)."""
    try:
        return bool(read_cache_meta(path))
    except CacheError:
        return False


def open_cache(cache_dir: str | os.PathLike, config: dict) -> None:
    """Creates ``cache_dir`` with ``config.json`` (the resolved config, JSON-able), or checks it.

    Raises:
        CacheError: the folder was made with another config; names the first settings that differ.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    wanted = json.loads(json.dumps({"format": FORMAT, **config}))  # as read back: tuples become lists
    path = cache_dir / CONFIG_NAME
    if not path.exists():
        path.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
        return
    found = json.loads(path.read_text(encoding="utf-8"))
    if found != wanted:
        changed = "; ".join(config_diff(found, wanted)[:3])
        raise CacheError(f"{cache_dir} was made with another config ({changed}); "
                         "use another output folder or the same options")


def config_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """``"key: old -> new"`` for every leaf that differs between two nested dicts."""
    out = []
    for key in sorted(set(old) | set(new), key=str):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += config_diff(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}: {a} -> {b}")
    return out


def remove_partial_files(cache_dir: str | os.PathLike) -> None:
    """Deletes the ``*.tmp.npz`` files a killed run left; they are never trusted."""
    for tmp in Path(cache_dir).glob("*.tmp.npz"):
        tmp.unlink(missing_ok=True)


def read_index(cache_dir: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of ``index.csv`` in file order (a path appears again when it was redone); [] without one."""
    path = Path(cache_dir) / INDEX_NAME
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if row.get("status") in ("ok", "error")]


def _parse_meta(data: Any, path: str | os.PathLike) -> dict:
    if META_KEY not in data.files:
        raise CacheError(f"{path}: not an avdetect cache file (no {META_KEY})")
    meta = json.loads(str(data[META_KEY]))
    if meta.get("format") != FORMAT:
        raise CacheError(f"{path}: cache format {meta.get('format')}, this avdetect reads {FORMAT}; redo it")
    return meta


def to_pcm16(audio: np.ndarray) -> np.ndarray:
    """float (N,) in [-1, 1] -> int16 (N,), rounded and clipped at full scale."""
    return np.clip(np.round(audio * PCM_SCALE), -PCM_SCALE, PCM_SCALE - 1).astype(np.int16)


def from_pcm16(audio: np.ndarray) -> np.ndarray:
    """int16 (N,) -> float32 (N,) in [-1, 1)."""
    return (audio.astype(np.float32) / PCM_SCALE).astype(np.float32)


def encode_tree(value: Any, key: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON structure of ``value``; its arrays go into ``arrays`` under dotted keys.

    Handles dataclasses of `avdetect.records`, tuples, lists, dicts with string keys, numpy arrays
    (not object arrays), numpy scalars, and JSON scalars (None, bool, int, float, str).
    """
    prefix = f"{key}." if key else ""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = type(value).__name__
        if RECORD_TYPES.get(name) is not type(value):
            raise TypeError(f"{name} is not a record of avdetect.records; cannot cache it")
        fields = {f.name: encode_tree(getattr(value, f.name), prefix + f.name, arrays)
                  for f in dataclasses.fields(value)}
        return {"record": name, "fields": fields}
    if isinstance(value, (tuple, list)):
        items = [encode_tree(item, f"{prefix}{i}", arrays) for i, item in enumerate(value)]
        return {"tuple" if isinstance(value, tuple) else "list": items}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError(f"{key}: only dicts with string keys can be cached")
        return {"dict": {k: encode_tree(v, prefix + k, arrays) for k, v in value.items()}}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"{key}: object arrays would need pickle; cannot cache them")
        arrays[key] = value
        return {"array": key}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"{key}: cannot cache a {type(value).__name__}")


def decode_tree(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    """Rebuilds what `encode_tree` described, taking arrays from ``arrays``."""
    if not isinstance(node, dict):
        return node
    if "record" in node:
        cls = RECORD_TYPES[node["record"]]  # KeyError: a record this version does not have
        return cls(**{name: decode_tree(child, arrays) for name, child in node["fields"].items()})
    if "tuple" in node:
        return tuple(decode_tree(child, arrays) for child in node["tuple"])
    if "list" in node:
        return [decode_tree(child, arrays) for child in node["list"]]
    if "dict" in node:
        return {k: decode_tree(child, arrays) for k, child in node["dict"].items()}
    return arrays[node["array"]]


def array_keys(node: Any) -> list[str]:
    """Every array key a `encode_tree` structure refers to."""
    if not isinstance(node, dict):
        return []
    if "array" in node:
        return [node["array"]]
    if "record" in node:
        children = list(node["fields"].values())
    elif "dict" in node:
        children = list(node["dict"].values())
    else:
        children = node.get("tuple", node.get("list", []))
    return [key for child in children for key in array_keys(child)]
