"""Decoding with PyAV: container facts, N frames sampled evenly in time in one pass, 16 kHz mono audio.

This is the only module that touches PyAV objects. A 10 s DFDC clip has a single keyframe, so seeking to
each sample would decode most of the clip again and again; one pass that decodes every frame but turns
into RGB only the frames it keeps is cheaper.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from avdetect.errors import DecodeError, EmptyMediaError, InputError
from avdetect.records import Clip, MediaInfo

log = logging.getLogger(__name__)

MAX_PACKET_ERRORS = 50  # corrupt packets tolerated before a file is declared undecodable


@dataclass(frozen=True)
class DecodeConfig:
    """Options of the decoder. Limits truncate or downscale, they never fail an input.

    Attributes:
        n_frames: frames to keep, evenly spaced in time (fewer when the video has fewer).
        sample_rate: rate of the returned audio, Hz.
        max_duration_s: decode at most this many seconds; longer inputs are truncated (Clip.truncated).
        max_side: kept frames are downscaled so that their longer side is at most this many pixels.
        read_video: decode the video stream.
        read_audio: decode the audio stream.
        threads: decoder threads; 0 lets FFmpeg choose.
    """

    n_frames: int = 32
    sample_rate: int = 16_000
    max_duration_s: float = 600.0
    max_side: int = 1920
    read_video: bool = True
    read_audio: bool = True
    threads: int = 0


def open_media(path: str | os.PathLike) -> av.container.InputContainer:
    """Opens `path` with FFmpeg, turning every failure into a typed error that names the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DecodeError(f"{path}: empty file (0 bytes)")
    try:
        return av.open(str(path), metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise DecodeError(f"{path}: FFmpeg cannot open it ({_reason(e)})") from e


def probe(path: str | os.PathLike) -> MediaInfo:
    """Reads container facts without decoding more than the first video frame (for its rotation)."""
    with open_media(path) as container:
        video, audio = _streams(container)
        rotation = _first_frame_rotation(container, video) if video is not None else 0
        return _media_info(Path(path), container, video, audio, rotation)


def read_clip(path: str | os.PathLike, config: DecodeConfig = DecodeConfig()) -> Clip:
    """Decodes `path` once: keeps `config.n_frames` frames evenly spaced in time, and all the audio.

    Raises:
        InputError: the path is not a readable file.
        DecodeError: FFmpeg cannot open the file or decode any of it.
        EmptyMediaError: the file has neither a decodable video frame nor decodable audio.
    """
    path = Path(path)
    with open_media(path) as container:
        video, audio = _streams(container)
        video = video if config.read_video else None
        audio = audio if config.read_audio else None
        if video is None and audio is None:
            raise EmptyMediaError(f"{path}: no video or audio stream")
        decoder = _Decoder(container, video, audio, config)
        decoder.run()
        info = _media_info(path, container, video, audio, decoder.rotation)
    return decoder.to_clip(info)


def load_audio(path: str | os.PathLike, sample_rate: int = 16_000) -> np.ndarray:
    """float32 (N,) mono audio of `path` at `sample_rate`; (0,) when the file has no audio stream."""
    clip = read_clip(path, DecodeConfig(read_video=False, sample_rate=sample_rate))
    return clip.audio


def _reason(error: Exception) -> str:
    text = getattr(error, "strerror", None) or str(error)
    return text.split(":")[0].strip() if "Errno" in str(error) else text


def _streams(container: av.container.InputContainer):
    video = next((s for s in container.streams.video if s.codec_context is not None), None)
    audio = next((s for s in container.streams.audio if s.codec_context is not None), None)
    return video, audio


def _first_frame_rotation(container, video) -> int:
    try:
        frame = next(container.decode(video), None)
    except av.FFmpegError:
        return 0
    return _rotation(frame) if frame is not None else 0


def _rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees (multiple of 90) that turn the stored frame upright."""
    return int(round((frame.rotation or 0) / 90.0)) * 90 % 360


def _media_info(path: Path, container, video, audio, rotation: int) -> MediaInfo:
    width, height, fps = 0, 0, 0.0
    if video is not None:
        width, height = _display_size(video)
        if rotation in (90, 270):
            width, height = height, width
        rate = video.average_rate or video.guessed_rate
        fps = float(rate) if rate else 0.0
    return MediaInfo(
        path=str(path),
        format_name=container.format.name,
        duration_s=_duration(container, video or audio),
        size_bytes=path.stat().st_size,
        has_video=video is not None,
        has_audio=audio is not None,
        width=width,
        height=height,
        fps=round(fps, 3),
        rotation=rotation,
        video_codec=video.codec_context.name if video is not None else "",
        audio_codec=audio.codec_context.name if audio is not None else "",
        audio_sample_rate=audio.codec_context.sample_rate or 0 if audio is not None else 0,
        audio_channels=audio.codec_context.channels or 0 if audio is not None else 0,
    )


def _display_size(video) -> tuple[int, int]:
    """Stored size corrected for non-square pixels (anamorphic video), before rotation."""
    width, height = video.codec_context.width, video.codec_context.height
    sar = video.sample_aspect_ratio or video.codec_context.sample_aspect_ratio
    if sar and float(sar) > 0 and abs(float(sar) - 1.0) > 1e-3:
        width = int(round(width * float(sar) / 2)) * 2
    return width, height


def _duration(container, stream) -> float:
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _start_time(container) -> float:
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def _scan_duration(container, video) -> float:
    """Reads packet timestamps (no decoding) to find the duration the header does not state."""
    last = 0.0
    for packet in container.demux(video):
        if packet.pts is not None and packet.time_base:
            last = max(last, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return max(0.0, last - _start_time(container))


def sample_targets(duration_s: float, n: int) -> np.ndarray:
    """float64 (n,) times at the centres of n equal slices of [0, duration_s)."""
    return duration_s * (np.arange(n) + 0.5) / n


class _Decoder:
    """One pass over the packets: picks the frames nearest each target time, collects the audio."""

    def __init__(self, container, video, audio, config: DecodeConfig):
        self.container, self.video, self.audio, self.config = container, video, audio, config
        self.t0 = _start_time(container)
        self.rotation = 0
        self.kept: list[tuple[float, np.ndarray]] = []
        self.n_decoded = 0
        self.truncated = False
        self.errors = 0
        self.previous: tuple[float, av.VideoFrame] | None = None
        self.audio_chunks: list[np.ndarray] = []
        self.audio_start: float | None = None
        self.resampler = None
        self.out_size = (0, 0)
        if audio is not None:
            self.resampler = av.AudioResampler(format="flt", layout="mono", rate=config.sample_rate)
        if video is not None:
            video.thread_type = "AUTO"
            video.codec_context.thread_count = config.threads
            self._prepare_targets()

    def _prepare_targets(self) -> None:
        duration = _duration(self.container, self.video) or _scan_duration(self.container, self.video)
        duration = min(duration, self.config.max_duration_s)
        self.targets = sample_targets(duration, self.config.n_frames) if duration > 0 else np.zeros(1)
        self.next_target = 0
        self.out_size = _output_size(self.video, self.config.max_side)

    def run(self) -> None:
        streams = [s for s in (self.video, self.audio) if s is not None]
        try:
            for packet in self.container.demux(*streams):
                if self._past_limit(packet):
                    self.truncated = True
                    break
                self._decode(packet)
        except av.FFmpegError as e:  # a broken container structure ends the pass; keep what decoded
            log.warning("%s: decoding stopped early (%s)", self.container.name, e)
        self._finish_video()
        if self.resampler is not None:
            self._collect_audio(self.resampler.resample(None))

    def _past_limit(self, packet) -> bool:
        if packet.pts is None or not packet.time_base:
            return False
        return float(packet.pts * packet.time_base) - self.t0 > self.config.max_duration_s

    def _decode(self, packet) -> None:
        try:
            frames = packet.decode()
        except av.FFmpegError as e:  # a corrupt packet: skip it, as ffmpeg does
            self.errors += 1
            if self.errors > MAX_PACKET_ERRORS:
                raise DecodeError(f"{self.container.name}: too many corrupt packets ({e})") from e
            return
        for frame in frames:
            if packet.stream.type == "video":
                self._on_video_frame(frame)
            else:
                self._on_audio_frame(frame)

    def _on_video_frame(self, frame: av.VideoFrame) -> None:
        if self.n_decoded == 0:
            self.rotation = _rotation(frame)
        self.n_decoded += 1
        t = self._frame_time(frame)
        while self.next_target < len(self.targets) and t >= self.targets[self.next_target]:
            target = self.targets[self.next_target]
            best = (t, frame)
            if self.previous is not None and target - self.previous[0] < t - target:
                best = self.previous
            self._keep(*best)
            self.next_target += 1
        self.previous = (t, frame)

    def _frame_time(self, frame: av.VideoFrame) -> float:
        if frame.time is not None:
            return frame.time - self.t0
        if self.previous is not None:  # no timestamp: one nominal frame after the previous one
            return self.previous[0] + 1.0 / float(self.video.average_rate or 25)
        return 0.0

    def _keep(self, t: float, frame: av.VideoFrame) -> None:
        if self.kept and self.kept[-1][0] == t:
            return  # two targets nearest the same frame: keep it once
        width, height = self.out_size
        image = frame.to_ndarray(format="rgb24", width=width, height=height)
        if self.rotation:
            image = np.ascontiguousarray(np.rot90(image, k=self.rotation // 90))
        self.kept.append((t, image))

    def _finish_video(self) -> None:
        if self.video is not None and self.previous is not None and self.next_target < len(self.targets):
            self._keep(*self.previous)  # targets past the last frame (duration overstated)

    def _on_audio_frame(self, frame: av.AudioFrame) -> None:
        if self.audio_start is None:
            self.audio_start = (frame.time - self.t0) if frame.time is not None else 0.0
        self._collect_audio(self.resampler.resample(frame))

    def _collect_audio(self, frames) -> None:
        for out in frames:
            self.audio_chunks.append(out.to_ndarray().reshape(-1))

    def to_clip(self, info: MediaInfo) -> Clip:
        frames, times = self._frames_array()
        audio = self._audio_array()
        if len(frames) == 0 and len(audio) == 0:
            raise EmptyMediaError(f"{info.path}: no frame or audio sample could be decoded")
        return Clip(
            info=info,
            frames=frames,
            times_s=times,
            audio=audio,
            sample_rate=self.config.sample_rate,
            n_decoded_frames=self.n_decoded,
            truncated=self.truncated,
            scale=_scale(self.video, self.out_size),
        )

    def _frames_array(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.kept:
            return np.zeros((0, 0, 0, 3), np.uint8), np.zeros(0, np.float64)
        times = np.array([t for t, _ in self.kept], np.float64)
        return np.stack([image for _, image in self.kept]), times

    def _audio_array(self) -> np.ndarray:
        if not self.audio_chunks:
            return np.zeros(0, np.float32)
        audio = np.concatenate(self.audio_chunks).astype(np.float32, copy=False)
        lead = int(round(max(0.0, self.audio_start or 0.0) * self.config.sample_rate))
        if lead:  # audio that starts after the video: pad so that sample times match frame times
            audio = np.concatenate([np.zeros(lead, np.float32), audio])
        limit = int(self.config.max_duration_s * self.config.sample_rate)
        return np.clip(audio[:limit], -1.0, 1.0)


def _output_size(video, max_side: int) -> tuple[int, int]:
    """Stored-orientation size of kept frames: display aspect, longer side at most `max_side`."""
    width, height = _display_size(video)
    scale = min(1.0, max_side / max(width, height, 1))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)


def _scale(video, out_size: tuple[int, int]) -> float:
    if video is None:
        return 1.0
    width, _ = _display_size(video)
    return out_size[0] / width if width else 1.0

