"""The awkward-input set: broken files, odd containers and codecs, odd sizes, rates and tracks.

``make_bad_inputs(dirpath)`` writes every file once (4-7 s on two shared cores, 1.5 MB) and describes each
with a ``BadInput``. The decoder must open every ``expect == "ok"`` file and raise its typed error for
every ``expect == "error"`` one; nothing here may hang or crash the process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from media import load_face_images, make_audio, make_video

VFR_TIMES_S = tuple([k / 30 for k in range(30)] + [1 + k / 10 for k in range(10)])  # 30 fps 1 s, then 10
LONG_S = 180.0  # the long file: three minutes at 128x96, 5 fps, tone at AAC's lowest rate (~12 kbit/s)
UHD = (3840, 2160)


@dataclass(frozen=True)
class BadInput:
    """One awkward test input and what a decoder should make of it."""

    path: Path
    expect: str  # "ok": opens and decodes (perhaps partially); "error": must raise, never hang or crash
    has_video: bool  # a decodable video stream is there
    has_audio: bool  # a decodable audio stream is there
    note: str = ""  # what is special about it, and sizes or times tests can check


def has_encoder(name: str) -> bool:
    """True when this PyAV build can encode with FFmpeg encoder ``name``."""
    try:
        av.codec.Codec(name, "w")
    except ValueError:  # av.codec.codec.UnknownCodecError
        return False
    return True


def make_bad_inputs(dirpath: str | Path, *, faces: Sequence[np.ndarray] | None = None) -> dict[str, BadInput]:
    """Write the awkward-input set into ``dirpath`` and describe each file.

    Args:
        dirpath: folder to write into (created if missing).
        faces: uint8 (S, S, 3) RGB faces for "four_faces" and "speech_clip"; None loads four from the
            shared data when present. Without faces those two entries are left out.

    Returns:
        Name to ``BadInput``, in a fixed order.
    """
    d = Path(dirpath)
    d.mkdir(parents=True, exist_ok=True)
    if faces is None:
        faces = _shared_faces()
    return {**_broken(d), **_tracks(d), **_geometry(d), **_containers(d), **_with_faces(d, faces)}


def _shared_faces() -> list[np.ndarray]:
    try:
        return load_face_images(4)
    except FileNotFoundError:
        return []


def _video(path: Path, note: str, **kwargs: Any) -> BadInput:
    make_video(path, **kwargs)
    return BadInput(path, "ok", True, kwargs.get("audio", True), note)


def _error(path: Path, data: bytes, note: str) -> BadInput:
    path.write_bytes(data)
    return BadInput(path, "error", False, False, note)


def _truncate(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def _broken(d: Path) -> dict[str, BadInput]:
    """Files that must fail cleanly, and one cut file that still decodes in part."""
    make_video(d / "truncated_moov_end.mp4")  # PyAV writes moov last: cutting it off loses the index
    make_video(d / "truncated_moov_front.mp4", options={"movflags": "+faststart"})
    rng = np.random.default_rng(0)
    return {
        "zero_bytes": _error(d / "zero_bytes.mp4", b"", "empty file"),
        "text_as_mp4": _error(d / "text_as_mp4.mp4", b"this is not a video\n" * 50, "text renamed .mp4"),
        "random_bytes": _error(d / "random_bytes.mp4", rng.bytes(64 * 1024), "64 KB of random bytes"),
        "truncated_moov_end": BadInput(_truncate(d / "truncated_moov_end.mp4", 0.3), "error", False, False,
                                       "first 30% of a 2 s mp4 whose moov atom is at the end"),
        "truncated_moov_front": BadInput(_truncate(d / "truncated_moov_front.mp4", 0.5), "ok", True, True,
                                         "first 50% of a 2 s faststart mp4: early frames decode; decoding "
                                         "the cut packet may raise"),
    }


def _tracks(d: Path) -> dict[str, BadInput]:
    """Missing, silent and unusual audio tracks; a video without a face."""
    make_audio(d / "audio_only.m4a", speech=True)
    make_audio(d / "audio_only.wav", speech=True)
    speech = "16 kHz mono, 2 s, speech-like"
    return {
        "audio_only_m4a": BadInput(d / "audio_only.m4a", "ok", False, True, f"AAC {speech}"),
        "audio_only_wav": BadInput(d / "audio_only.wav", "ok", False, True, f"PCM {speech}"),
        "video_only": _video(d / "video_only.mp4", "no audio stream", audio=False),
        "no_face": _video(d / "no_face.mp4", "moving pattern only; MTCNN finds nothing"),
        "silent_audio": _video(d / "silent_audio.mp4", "AAC track of digital zeros", silent_audio=True),
        "audio_8k_stereo": _video(d / "audio_8k_stereo.mp4", "AAC 8 kHz stereo (440 Hz left, 660 Hz right)",
                                  audio_rate=8000, audio_channels=2),
        "three_minutes": _video(d / "three_minutes.mp4", "180 s, 128x96 at 5 fps (900 frames), tone",
                                width=128, height=96, fps=5, duration_s=LONG_S, audio_bit_rate=8000),
    }


def _geometry(d: Path) -> dict[str, BadInput]:
    """Odd frame sizes, rotation, frame counts and frame rates."""
    return {
        "rotated_90": _video(d / "rotated_90.mp4", "stored 320x240, display matrix 90 deg: shows 240x320 "
                             "with the marker at the bottom-left", rotation=90),
        "vfr": _video(d / "vfr.mp4", "40 frames at VFR_TIMES_S: 30 fps for 1 s, then 10 fps", fps=30,
                      frame_times_s=VFR_TIMES_S),
        "tiny_64": _video(d / "tiny_64.mp4", "64x64", width=64, height=64),
        "uhd_4k": _video(d / "uhd_4k.mp4", "3840x2160, 1 s at 5 fps, plain background", width=UHD[0],
                         height=UHD[1], fps=5, duration_s=1.0, background="plain"),
        "one_frame": _video(d / "one_frame.mp4", "a single video frame, 1 s of audio", duration_s=1.0, fps=1),
    }


def _containers(d: Path) -> dict[str, BadInput]:
    """Containers and codecs other than H.264/AAC in MP4."""
    out = {
        "gif": _video(d / "anim.gif", "GIF, 160x120, 10 frames at 10 fps", width=160, height=120, fps=10,
                      duration_s=1.0, audio=False),
        "mpeg2_ps": _video(d / "mpeg2_ps.mpg", "MPEG-2 program stream, mpeg2video + mp2; starts at ~0.5 s",
                           container_format="vob"),
        "webm_vp9_opus": _video(d / "webm_vp9_opus.webm", "VP9 + Opus (Opus decodes at 48 kHz)"),
        "non_ascii_name": _video(d / "видео_é.mp4", "non-ASCII file name"),
        "fragmented_mp4": _video(d / "fragmented.mp4", "fragmented MP4 (empty moov, moof per keyframe)",
                                 options={"movflags": "frag_keyframe+empty_moov"}),
    }
    if has_encoder("libx265"):
        out["hevc"] = _video(d / "hevc.mp4", "HEVC (libx265) + AAC", codec="libx265")
    return out


def _with_faces(d: Path, faces: Sequence[np.ndarray]) -> dict[str, BadInput]:
    """Real faces: four at once, and one talking (speech-like audio); empty without faces."""
    if len(faces) < 4:
        return {}
    return {
        "four_faces": _video(d / "four_faces.mp4", "4 real faces, 2x2 grid, 100 px crops", faces=faces[:4]),
        "speech_clip": _video(d / "speech_clip.mp4", "1 real face (100 px), 3 s, speech-like from 0.5 s",
                              faces=faces[:1], speech=True, duration_s=3.0),
    }
