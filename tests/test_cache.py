"""The extraction cache file: exact round trips, no pickle, atomic writes, honest failures."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from avdetect.corpus import cache
from avdetect.corpus.cache import cache_key, is_complete, load_perception, open_cache, read_cache_meta, save_perception
from avdetect.errors import CacheError
from avdetect.records import (
    AudioFeatures,
    Clip,
    Faces,
    FaceTrack,
    MediaInfo,
    MelWindows,
    MouthTrack,
    Perception,
    StageTimes,
)

AUDIO_TOLERANCE = 1 / 32768  # int16 rounding, and +1.0 clips to 32767 / 32768


def face_track(rng: np.random.Generator, track_id: int, n: int) -> FaceTrack:
    boxes = rng.uniform(0, 100, (n, 4)).astype(np.float32)
    return FaceTrack(track_id=track_id, frame_idx=np.arange(n, dtype=np.int64) * 2,
                     times_s=np.arange(n) / 12.5, boxes=boxes,
                     landmarks=rng.uniform(0, 100, (n, 5, 2)).astype(np.float32),
                     probs=rng.uniform(0.9, 1, n).astype(np.float32), detected=rng.random(n) < 0.5,
                     crop_boxes=boxes + 1, crops=rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8))


def audio_features(rng: np.random.Generator) -> AudioFeatures:
    windows = MelWindows(mels=rng.normal(-40, 10, (3, 8, 20)).astype(np.float32), start_s=np.array([0.5, 1.5, 2.5]),
                         end_s=np.array([2.5, 3.5, 4.5]))
    return AudioFeatures(duration_s=5.0, speech_segments=np.array([[0.5, 2.0], [2.5, 4.5]]), speech_start_s=0.5,
                         speech_end_s=4.5, windows=windows)


def perception(*, video: bool = True, audio: bool = True, n_tracks: int = 2) -> Perception:
    """A made-up Perception with every kind of field (no decoding, no model)."""
    rng = np.random.default_rng(n_tracks)
    frames = rng.integers(0, 256, (6, 24, 32, 3), dtype=np.uint8) if video else np.zeros((0, 0, 0, 3), np.uint8)
    samples = rng.uniform(-1, 1, 80_000).astype(np.float32) if audio else np.zeros(0, np.float32)
    info = MediaInfo(path="/data/é clip.mp4", format_name="mov,mp4", duration_s=5.0, size_bytes=1234,
                     has_video=video, has_audio=audio, width=32, height=24, fps=25.0, audio_sample_rate=48_000)
    clip = Clip(info=info, frames=frames, times_s=np.arange(len(frames)) * 0.8, audio=samples, sample_rate=16_000,
                luma=frames[..., 0].copy(), luma_times_s=np.arange(len(frames)) * 0.8, n_decoded_frames=125)
    tracks = tuple(face_track(rng, i, 4 + i) for i in range(n_tracks)) if video else ()
    faces = Faces(tracks=tracks, n_frames=len(frames), detected_frame_idx=np.arange(0, len(frames), 2),
                  detect_scale=0.5)
    mouths = tuple(MouthTrack(track_id=t.track_id, times_s=np.arange(5) / 25, boxes=np.ones((5, 4), np.float32),
                              crops=rng.integers(0, 256, (5, 8, 16), dtype=np.uint8)) for t in tracks)
    return Perception(clip=clip, faces=faces, audio=audio_features(rng) if audio else None, mouths=mouths,
                      times=StageTimes(decode_s=0.1, faces_s=0.2, audio_s=0.3))


def assert_same(a: object, b: object, where: str = "") -> None:
    """Recursive equality over dataclass fields, tuples and arrays (dtype and shape included)."""
    assert type(a) is type(b), where
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}.{i}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    else:
        assert a == b, where


def without_images(p: Perception) -> Perception:
    """What a cache gives back: no frames, no luma."""
    clip = dataclasses.replace(p.clip, frames=np.zeros((0, 0, 0, 3), np.uint8), luma=np.zeros((0, 0, 0), np.uint8))
    return dataclasses.replace(p, clip=clip)


@pytest.mark.parametrize("kind", ["tracks", "no_tracks", "audio_only", "video_only"])
def test_round_trip_is_exact_but_for_images_and_audio_rounding(tmp_path, kind):
    options = {"tracks": {}, "no_tracks": {"n_tracks": 0}, "audio_only": {"video": False},
               "video_only": {"audio": False}}[kind]
    original = perception(**options)
    save_perception(tmp_path / "a.npz", original)
    loaded = load_perception(tmp_path / "a.npz")
    np.testing.assert_allclose(loaded.clip.audio, original.clip.audio, atol=AUDIO_TOLERANCE, rtol=0)
    expected = without_images(original)
    assert_same(dataclasses.replace(loaded, clip=dataclasses.replace(loaded.clip, audio=expected.clip.audio)),
                expected)


def test_pcm16_audio_is_exact_for_16_bit_sources(tmp_path):
    original = perception()
    pcm = np.arange(-32768, 32768, 7, dtype=np.int16)
    clip = dataclasses.replace(original.clip, audio=pcm.astype(np.float32) / 32768)
    save_perception(tmp_path / "a.npz", dataclasses.replace(original, clip=clip))
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        np.testing.assert_array_equal(data["clip.audio"], pcm)
    np.testing.assert_array_equal(load_perception(tmp_path / "a.npz").clip.audio, clip.audio)


def test_meta_records_what_was_dropped(tmp_path):
    save_perception(tmp_path / "a.npz", perception())
    meta = read_cache_meta(tmp_path / "a.npz")
    assert meta.frames_dropped and meta.dropped == {"clip.frames": (6, 24, 32, 3), "clip.luma": (6, 24, 32)}
    assert meta.audio_encoding == "pcm16" and "faces.tracks.1.crops" in meta.keys


def test_nothing_needs_pickle(tmp_path):
    save_perception(tmp_path / "a.npz", perception())
    with np.load(tmp_path / "a.npz", allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    assert all(not a.dtype.hasobject for a in arrays.values())
    assert json.loads(str(arrays["__meta__"]))["format"] == cache.FORMAT


@dataclasses.dataclass(frozen=True)
class FutureRecord:
    """A record with field kinds the cache has not met yet."""

    name: str
    items: tuple
    table: dict
    maybe: np.ndarray | None
    count: int


def test_encoding_is_generic_over_fields(monkeypatch):
    monkeypatch.setitem(cache.RECORD_TYPES, "FutureRecord", FutureRecord)
    inner = FutureRecord("in", (), {}, None, 0)
    value = FutureRecord("x", (inner, np.arange(3), 1.5, None), {"a": np.ones((2, 2), np.float16), "b": "s"},
                         np.zeros((0, 5)), np.int64(7))
    arrays: dict[str, np.ndarray] = {}
    tree = json.loads(json.dumps(cache.encode_tree(value, "", arrays)))
    assert sorted(arrays) == ["items.1", "maybe", "table.a"] == sorted(cache.array_keys(tree))
    back = cache.decode_tree(tree, arrays)
    assert back.items[0] == inner and back.count == 7 and back.table["b"] == "s"
    assert_same(back.table["a"], value.table["a"])
    assert_same(back.maybe, value.maybe)


def test_refuses_what_would_need_pickle_or_foreign_classes(tmp_path):
    bad_clip = dataclasses.replace(perception().clip, times_s=np.array([object()]))
    with pytest.raises(TypeError, match="pickle"):
        save_perception(tmp_path / "a.npz", dataclasses.replace(perception(), clip=bad_clip))
    with pytest.raises(TypeError, match="not a record"):
        cache.encode_tree(FutureRecord("x", (), {}, None, 0), "", {})
    assert not list(tmp_path.iterdir())


def test_write_is_atomic_and_leaves_no_temporary(tmp_path, monkeypatch):
    save_perception(tmp_path / "a.npz", perception())
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]

    def interrupted(*args, **kwargs):
        assert len(list(tmp_path.glob("b.*.tmp.npz"))) == 1  # written aside, complete, not yet renamed
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_perception(tmp_path / "b.npz", perception())
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # neither b.npz nor its temporary


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing", "no_meta", "missing_array"])
def test_damaged_files_fail_typed(tmp_path, damage):
    path = tmp_path / "a.npz"
    save_perception(path, perception())
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"not a zip at all")
    elif damage == "missing":
        path.unlink()
    elif damage == "no_meta":
        np.savez(path, x=np.zeros(3))
    else:
        _drop_member(path, "faces.tracks.0.crops.npy")
    assert not is_complete(path)
    with pytest.raises(CacheError):
        load_perception(path)


def _drop_member(path: Path, member: str) -> None:
    with zipfile.ZipFile(path) as zin:
        kept = {name: zin.read(name) for name in zin.namelist() if name != member}
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in kept.items():
            zout.writestr(name, data)


def test_cache_key_is_stable_unique_and_safe(tmp_path):
    a, b = tmp_path / "a" / "clip 1 é.mp4", tmp_path / "b" / "clip 1 é.mp4"
    assert cache_key(a) == cache_key(a) != cache_key(b)
    assert cache_key(a).endswith("_clip_1") and len(cache_key(a).split("_")[0]) == 16
    assert cache_key(tmp_path / "x" / ".." / "a" / "clip 1 é.mp4") == cache_key(a)
    assert cache_key(tmp_path / "ééé.mp4").isalnum()


def test_open_cache_refuses_another_config(tmp_path):
    open_cache(tmp_path / "c", {"perception": {"decode": {"n_frames": 32}}})
    open_cache(tmp_path / "c", {"perception": {"decode": {"n_frames": 32}}})
    with pytest.raises(CacheError, match=r"decode.n_frames: 32 -> 8"):
        open_cache(tmp_path / "c", {"perception": {"decode": {"n_frames": 8}}})
