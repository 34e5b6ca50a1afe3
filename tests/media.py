"""Test media made at test time: moving-pattern videos with real faces, tones and speech-like audio.

Importing this module does nothing. Frame-index marker: frame ``k`` shows three flat gray squares of
side ``max(16, round(min(H, W) / 8))`` (``marker_cell``) along the top edge from the top-left corner;
square ``d`` holds base-30 digit ``d`` of ``k`` (least significant first) as gray ``16 + 8 * digit``.
``read_frame_index`` averages each square's central half, sizing cells from the frame it is given, so
resized frames read too. Coding moves a flat square 1-5 levels, inside the 8-level step: ``k`` (time
``k / fps``) comes back exact for H.264, HEVC, VP9, MPEG-2. With rotation 90 the marker shows at the
bottom-left of upright frames (``upright = np.rot90(stored, 1)``).
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

MARKER_STEP = 8  # gray levels per digit; lossy coding moves a flat square by up to about 5 levels
MARKER_BASE = 30  # digit values; 16 + 8 * 29 = 248 stays below white
MARKER_DIGITS = 3  # indices wrap after 30**3 = 27,000 frames
SPEECH_LEAD_S = 0.5  # leading digital silence of the speech-like signal, seconds
FACE_ZIP = "faces/utkface-8k.zip"

VIDEO_CODECS = {".webm": "libvpx-vp9", ".mpg": "mpeg2video", ".gif": "gif"}  # else libx264
AUDIO_CODECS = {".mp4": "aac", ".m4a": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus",
                ".ogg": "libopus", ".mpg": "mp2", ".wav": "pcm_s16le", ".flac": "flac", ".mp3": "libmp3lame"}
ENCODER_OPTIONS = {  # keep encoding fast on small CI machines
    "libx264": {"preset": "veryfast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
    "mpeg2video": {"b": "1000k"},  # the 200 kbit/s default blurs the marker
}


def shared_data_dir() -> Path | None:
    """Return the shared sample-data folder (``$AVDETECT_SHARED_DATA`` or ``../shared/data``), or None."""
    env = os.environ.get("AVDETECT_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return path if path.is_dir() else None


def load_face_images(n: int, *, size: int = 100, min_age: int = 20, max_age: int = 50) -> list[np.ndarray]:
    """Read ``n`` different real faces (UTKFace aligned crops), the same ones on every call.

    Args:
        n: how many faces.
        size: side of the square images, pixels; the face fills ~70%. 100 fits 2x2 under the marker at 240p.
        min_age: youngest age (from the file name) to take; adults only keeps detection boring.
        max_age: oldest age to take.

    Returns:
        ``n`` uint8 (size, size, 3) RGB arrays.

    Raises:
        FileNotFoundError: the shared data is absent; callers should skip.
    """
    root = shared_data_dir()
    if root is None or not (root / FACE_ZIP).is_file():
        raise FileNotFoundError(f"{FACE_ZIP} not found under ../shared/data; set AVDETECT_SHARED_DATA")
    with zipfile.ZipFile(root / FACE_ZIP) as archive:
        ages = {name: name.split("_")[0] for name in archive.namelist()}
        names = sorted(name for name, age in ages.items() if age.isdigit() and min_age <= int(age) <= max_age)
        step = max(1, len(names) // max(n, 1))
        images = [Image.open(io.BytesIO(archive.read(name))).convert("RGB") for name in names[::step][:n]]
    return [np.asarray(image.resize((size, size), Image.BILINEAR)) for image in images]


def marker_cell(height: int, width: int) -> int:
    """Side in pixels of one marker square: 1/8 of the short side (so resized frames read), at least 16."""
    return max(16, round(min(height, width) / 8))


def marker_levels(k: int) -> list[int]:
    """Gray levels of the marker squares that encode frame index ``k``, least significant first."""
    return [16 + MARKER_STEP * (k // MARKER_BASE**d % MARKER_BASE) for d in range(MARKER_DIGITS)]


def read_frame_index(frame: np.ndarray, *, rotation: int = 0) -> int:
    """Read the index drawn by ``make_video`` from a uint8 (H, W, 3) RGB frame shown with ``rotation``."""
    frame = np.rot90(frame, -(rotation // 90))
    cell = marker_cell(*frame.shape[:2])
    lo, hi = cell // 4, cell - cell // 4
    index = 0
    for d in range(MARKER_DIGITS):
        level = frame[lo:hi, d * cell + lo:d * cell + hi].mean() + 1  # +1: YUV round trips read ~1 low
        index += int(np.clip(round((level - 16) / MARKER_STEP), 0, MARKER_BASE - 1)) * MARKER_BASE**d
    return index


def pattern_tile(height: int, width: int, *, period: int = 64, background: str | None = None) -> np.ndarray:
    """uint8 (H + period, W + period, 3) background that ``render_frames`` slides diagonally.

    ``background`` is None or "pattern" (soft colour waves of ``period`` pixels) or "plain" (mid-gray).
    """
    if background == "plain":
        return np.full((height + period, width + period, 3), 128, np.uint8)
    if background not in (None, "pattern"):
        raise ValueError(f"unknown background {background!r}; valid: None, 'pattern', 'plain'")
    y = np.arange(height + period, dtype=np.float32)[:, None] * (2 * np.pi / period)
    x = np.arange(width + period, dtype=np.float32)[None, :] * (2 * np.pi / period)
    rgb = [np.sin(x + y), np.sin(2 * x) * np.cos(y), np.cos(x - 2 * y)]
    return (128 + 50 * np.stack(rgb, axis=-1)).astype(np.uint8)


def face_layout(n: int, height: int, width: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners (x, y) for ``n`` faces of side ``size`` in a grid below the marker band."""
    cols, top = math.ceil(math.sqrt(n)), marker_cell(height, width)
    rows = math.ceil(n / cols) if n else 0
    cw, ch = width / max(cols, 1), (height - top) / max(rows, 1)
    return [(int((i % cols + 0.5) * cw - size / 2), int(top + (i // cols + 0.5) * ch - size / 2))
            for i in range(n)]


def render_frames(n_frames: int, *, height: int, width: int, fps: float, faces: Sequence[np.ndarray] = (),
                  face_positions: Sequence[tuple[int, int]] | None = None, background: str | None = None,
                  drift_px: float = 6.0) -> Iterator[np.ndarray]:
    """Yield ``n_frames`` uint8 (H, W, 3) RGB frames: sliding background, drifting faces, index marker."""
    period = 64
    tile = pattern_tile(height, width, period=period, background=background)
    size = faces[0].shape[0] if len(faces) else 0
    corners = face_positions or face_layout(len(faces), height, width, size)
    cell = marker_cell(height, width)
    for k in range(n_frames):
        shift = (2 * k) % period  # two pixels a frame, diagonally
        frame = tile[shift:shift + height, shift:shift + width].copy()
        dx = drift_px * math.sin(2 * math.pi * k / (4 * fps))  # faces sway slowly, 4 s a cycle
        for i, (face, (x, y)) in enumerate(zip(faces, corners)):
            _paste(frame, face, x + round(dx if i % 2 == 0 else -dx), y)
        for d, level in enumerate(marker_levels(k)):
            frame[:cell, d * cell:(d + 1) * cell] = level
        yield frame


def _paste(frame: np.ndarray, face: np.ndarray, x: int, y: int) -> None:
    h, w = face.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, frame.shape[1]), min(y + h, frame.shape[0])
    if x1 > x0 and y1 > y0:
        frame[y0:y1, x0:x1] = face[y0 - y:y1 - y, x0 - x:x1 - x]


def speech_intervals(duration_s: float, *, seed: int = 0) -> list[tuple[float, float]]:
    """Voiced bursts (start_s, end_s) of ``speech_like``: 0.5 s silence, then syllables and pauses."""
    rng = np.random.default_rng(seed)
    t, out = SPEECH_LEAD_S, []
    while True:
        for _ in range(rng.integers(3, 6)):  # a "phrase" of 3-5 syllables
            length = rng.uniform(0.15, 0.3)
            if t + length > duration_s:
                return out
            out.append((t, t + length))
            t += length + rng.uniform(0.03, 0.08)
        t += rng.uniform(0.25, 0.45)  # pause between phrases


def speech_like(duration_s: float, rate: int, *, seed: int = 0) -> np.ndarray:
    """float32 (N,) speech-like signal: gliding harmonic series (f0 100-180 Hz), enveloped bursts.

    Samples outside ``speech_intervals(duration_s, seed=seed)`` are exactly zero; peak is 0.5.
    """
    t = np.arange(int(round(duration_s * rate))) / rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)  # slow intonation
    phase = 2 * np.pi * np.cumsum(f0) / rate
    n_harm = max(1, min(12, int(rate / 2 / 200)))
    voice = sum(np.sin(h * phase) / h for h in range(1, n_harm + 1))
    envelope = np.zeros(len(t))
    for start, end in speech_intervals(duration_s, seed=seed):
        i0, i1 = int(start * rate), int(end * rate)
        envelope[i0:i1] = np.hanning(i1 - i0) * (1 + 0.3 * np.sin(2 * np.pi * 25 * t[i0:i1]))
    signal = voice * envelope
    peak = np.abs(signal).max()
    return (0.5 * signal / peak if peak > 0 else signal).astype(np.float32)


def audio_signal(duration_s: float, rate: int, *, channels: int = 1, speech: bool = False,
                 silent: bool = False, seed: int = 0) -> np.ndarray:
    """float32 (channels, N) test audio: exact zeros, speech-like, or a 440 Hz tone (660 Hz on channel 2)."""
    n = int(round(duration_s * rate))
    if silent:
        return np.zeros((channels, n), np.float32)
    if speech:
        return np.repeat(speech_like(duration_s, rate, seed=seed)[None], channels, axis=0)
    t = np.arange(n) / rate
    tones = [0.3 * np.sin(2 * np.pi * 440 * (1 + c / 2) * t) for c in range(channels)]
    return np.stack(tones).astype(np.float32)


def _add_audio(container: av.container.OutputContainer, codec: str, rate: int, channels: int,
               bit_rate: int | None) -> av.audio.stream.AudioStream:
    stream = container.add_stream(codec, rate=rate, layout="mono" if channels == 1 else "stereo")
    if bit_rate:
        stream.bit_rate = bit_rate
    return stream


def _encode_audio(container: av.container.OutputContainer, stream: av.audio.stream.AudioStream,
                  samples: np.ndarray, start: int = 0, stop: int | None = None) -> None:
    """Encode float32 (C, N) ``samples[:, start:stop]``; PyAV resamples and re-chunks for the encoder."""
    layout, stop = ("mono" if samples.shape[0] == 1 else "stereo"), samples.shape[1] if stop is None else stop
    for i in range(start, stop, 4096):
        packed = np.ascontiguousarray(samples[:, i:min(i + 4096, stop)].T).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(packed, format="flt", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = stream.rate, i, Fraction(1, stream.rate)
        container.mux(stream.encode(frame))


def make_audio(path: str | Path, *, rate: int = 16000, channels: int = 1, duration_s: float = 2.0,
               codec: str | None = None, speech: bool = True, silent: bool = False, seed: int = 0,
               bit_rate: int | None = None) -> Path:
    """Write an audio-only file (.wav, .flac, .mp3, .m4a, .ogg, ...); the codec follows the suffix.

    Args:
        path: output file.
        rate: sample rate, Hz.
        channels: 1 or 2.
        duration_s: length, seconds.
        codec: FFmpeg encoder name; default from ``AUDIO_CODECS`` by suffix.
        speech: speech-like signal (see ``speech_like``) instead of a tone.
        silent: exact digital zeros (wins over ``speech``).
        seed: varies the speech-like syllable timing.
        bit_rate: encoder bit rate in bit/s for lossy codecs; None for the encoder default.
    """
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = _add_audio(container, codec or AUDIO_CODECS[path.suffix.lower()], rate, channels, bit_rate)
        _encode_audio(container, stream, audio_signal(duration_s, rate, channels=channels, speech=speech,
                                                      silent=silent, seed=seed))
        container.mux(stream.encode(None))
    return path


def make_video(path: str | Path, *, width: int = 320, height: int = 240, fps: int = 25,
               duration_s: float = 2.0, codec: str | None = None, pix_fmt: str | None = None,
               audio: bool = True, audio_rate: int = 16000, audio_channels: int = 1,
               audio_codec: str | None = None, faces: Sequence[np.ndarray] = (),
               face_positions: Sequence[tuple[int, int]] | None = None, background: str | None = None,
               speech: bool = False, silent_audio: bool = False, seed: int = 0, rotation: int = 0,
               frame_times_s: Sequence[float] | None = None, container_format: str | None = None,
               options: dict[str, str] | None = None, audio_bit_rate: int | None = None) -> Path:
    """Write a moving-pattern video with the frame-index marker, optional faces and audio.

    Args:
        path: output file; its suffix picks the container and default codecs.
        width: stored frame width, pixels.
        height: stored frame height, pixels.
        fps: nominal frame rate; frame ``k`` is shown at ``k / fps`` s unless ``frame_times_s`` is given.
        duration_s: length; the video has ``round(duration_s * fps)`` frames (at least 1).
        codec: video encoder; default libx264, or by suffix from ``VIDEO_CODECS``.
        pix_fmt: encoder pixel format; default yuv420p (rgb8 for GIF).
        audio: add an audio track of ``duration_s``, interleaved with the frames.
        audio_rate: audio sample rate, Hz.
        audio_channels: 1 or 2.
        audio_codec: audio encoder; default by suffix from ``AUDIO_CODECS``.
        faces: uint8 (S, S, 3) RGB face images pasted every frame, swaying a few pixels.
        face_positions: top-left (x, y) of each face; default a grid from ``face_layout``.
        background: None/"pattern" (sliding colour waves) or "plain" (flat gray).
        speech: speech-like audio (0.5 s of silence, then syllables) instead of a tone.
        silent_audio: audio track of exact digital zeros.
        seed: varies the speech-like syllable timing.
        rotation: display rotation, degrees counter-clockwise, written as a display matrix.
        frame_times_s: presentation time of each frame (variable frame rate); sets the frame count.
        container_format: FFmpeg muxer name when the suffix is not enough (e.g. "vob").
        options: muxer options, e.g. ``{"movflags": "frag_keyframe+empty_moov"}``.
        audio_bit_rate: audio encoder bit rate, bit/s; None for the encoder default.
    """
    path, suffix = Path(path), Path(path).suffix.lower()
    codec, n_frames = codec or VIDEO_CODECS.get(suffix, "libx264"), max(1, round(duration_s * fps))
    times = list(frame_times_s) if frame_times_s is not None else [k / fps for k in range(n_frames)]
    with av.open(str(path), "w", format=container_format, options=options or {}) as container:
        video = container.add_stream(codec, rate=fps, options=ENCODER_OPTIONS.get(codec, {}))
        video.width, video.height = width, height
        video.pix_fmt = pix_fmt or ("rgb8" if codec == "gif" else "yuv420p")
        video.codec_context.time_base = Fraction(1, 1000) if frame_times_s is not None else Fraction(1, fps)
        if rotation:
            video.set_display_rotation(rotation)
        sound = audio and _add_audio(container, audio_codec or AUDIO_CODECS[suffix], audio_rate,
                                     audio_channels, audio_bit_rate)
        samples = audio_signal(duration_s, audio_rate, channels=audio_channels, speech=speech,
                               silent=silent_audio, seed=seed)
        frames = render_frames(len(times), height=height, width=width, fps=fps, faces=faces,
                               face_positions=face_positions, background=background)
        for k, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.time_base = video.codec_context.time_base
            frame.pts = round(times[k] / frame.time_base)
            container.mux(video.encode(frame))
            if sound:  # interleave: audio up to the next frame's time, as a camera writes it
                stop = samples.shape[1] if k + 1 == len(times) else int(times[k + 1] * audio_rate)
                _encode_audio(container, sound, samples, int(times[k] * audio_rate) if k else 0, stop)
        container.mux(video.encode(None))
        if sound:
            container.mux(sound.encode(None))
    return path
