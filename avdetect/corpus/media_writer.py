"""Writes frames and mono audio as an H.264/AAC mp4 (or audio alone as a WAV): made media (demo, synthetic
swaps) in one encode, so that two files written here differ only in what they show."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from avdetect.defaults import SAMPLE_RATE


class ClipWriter:
    """`with ClipWriter(path, fps, width, height) as w: w.write(rgb)...; w.write_audio(audio)`.

    x264 without its macroblock tree (`mbtree=0`): with it one of every few encodes of the same frames
    differed, so the same input did not give the same bytes.
    """

    def __init__(self, path: Path, fps: float, width: int, height: int, *, crf: int = 20,
                 sample_rate: int = SAMPLE_RATE, audio: bool = True):
        self.sample_rate = sample_rate
        self.out = av.open(str(path), "w")
        self.video = self.out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001),
                                         options={"preset": "veryfast", "crf": str(crf), "x264-params": "mbtree=0"})
        self.video.width, self.video.height, self.video.pix_fmt = width, height, "yuv420p"
        self.sound = self.out.add_stream("aac", rate=sample_rate, layout="mono") if audio else None

    def write(self, rgb: np.ndarray) -> None:
        """Encodes one uint8 (H, W, 3) frame."""
        self.out.mux(self.video.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))

    def write_audio(self, audio: np.ndarray) -> None:
        """Flushes the frames, then encodes float32 (N,) mono audio at `sample_rate` (call once, last; a
        writer made with ``audio=False`` only flushes)."""
        self.out.mux(self.video.encode(None))
        if self.sound is not None:
            mux_audio(self.out, self.sound, audio, self.sample_rate)

    def __enter__(self) -> ClipWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.out.close()


def write_clip(path: Path, frames: np.ndarray, fps: float, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """H.264/AAC mp4 of uint8 (T, H, W, 3) frames and float32 (N,) mono audio."""
    with ClipWriter(path, fps, frames.shape[2], frames.shape[1], sample_rate=sample_rate) as writer:
        for rgb in frames:
            writer.write(rgb)
        writer.write_audio(audio)
    return path


def write_wav(path: Path, audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """16-bit PCM WAV of float32 (N,) mono audio."""
    with av.open(str(path), "w") as out:
        mux_audio(out, out.add_stream("pcm_s16le", rate=sample_rate, layout="mono"), audio, sample_rate)
    return path


def mux_audio(out: av.container.OutputContainer, sound: av.audio.stream.AudioStream, audio: np.ndarray,
              sample_rate: int) -> None:
    """Encodes float32 (N,) mono `audio` as one frame into stream `sound` of `out`, then flushes it."""
    frame = av.AudioFrame.from_ndarray(audio.astype(np.float32)[None], format="fltp", layout="mono")
    frame.sample_rate = sample_rate
    out.mux(sound.encode(frame))
    out.mux(sound.encode(None))
