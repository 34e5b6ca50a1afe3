"""The one decoding pass behind `avdetect.perception.video.read_clip`.

Every frame is decoded (a 10 s DFDC clip has a single keyframe, so seeking to each sample would decode
most of the clip again and again), but only the frames nearest the sampling targets are converted to
RGB. For lip-sync, the luma plane of every frame in the first `dense_max_s` seconds is kept too,
decimated by a strided copy of the Y plane (a fraction of the cost of a colour conversion).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import av
import numpy as np

from avdetect.defaults import SAMPLE_RATE
from avdetect.errors import DecodeError, EmptyMediaError
from avdetect.perception.video_info import display_size, duration, rotation, scan_duration, start_time
from avdetect.records import Clip, MediaInfo

log = logging.getLogger(__name__)

MAX_PACKET_ERRORS = 50  # corrupt packets tolerated before a file is declared undecodable
PLANAR_8BIT = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}


@dataclass(frozen=True)
class DecodeConfig:
    """Options of the decoder. Limits truncate or downscale, they never fail an input.

    Attributes:
        n_frames: frames to keep, evenly spaced in time (fewer when the video has fewer).
        sample_rate: rate of the returned audio, Hz.
        max_duration_s: decode at most this many seconds; longer inputs are truncated (Clip.truncated).
        max_side: kept frames are downscaled so that their longer side is at most this many pixels.
        dense_max_s: keep the luma of every frame for this many seconds from the start (lip-sync);
            0 keeps none.
        dense_short_side: dense luma frames are decimated by an integer step to about this short side.
        read_video: decode the video stream.
        read_audio: decode the audio stream.
        threads: decoder threads; 0 lets FFmpeg choose.
        skip_nonref: let FFmpeg skip the frames no other frame refers to (``skip_frame=NONREF``): about
            half the frames of a stream with B-frames, at about 60 % of the decoding time, so the luma
            comes at about half the frame rate. Off in every trained model's spec; the fast scoring mode
            (`avdetect.scoring.modes`) turns it on knowingly.
    """

    n_frames: int = 32
    sample_rate: int = SAMPLE_RATE
    max_duration_s: float = 600.0
    max_side: int = 1920
    dense_max_s: float = 20.0
    dense_short_side: int = 270
    read_video: bool = True
    read_audio: bool = True
    threads: int = 0
    skip_nonref: bool = False


def sample_targets(duration_s: float, n: int) -> np.ndarray:
    """float64 (n,) times at the centres of n equal slices of [0, duration_s)."""
    return duration_s * (np.arange(n) + 0.5) / n


class OnePassDecoder:
    """One pass over the packets: picks the frames nearest each target time, collects the audio."""

    def __init__(self, container, video, audio, config: DecodeConfig):
        self.container, self.video, self.audio, self.config = container, video, audio, config
        self.t0 = start_time(container)
        self.rotation = 0
        self.kept_times: list[float] = []
        self.kept_frames: np.ndarray | None = None  # uint8 (n_frames, H, W, 3), filled as frames are kept
        self.dense: list[tuple[float, np.ndarray]] = []
        self.n_decoded = 0
        self.truncated = False
        self.errors = 0
        self.previous: tuple[float, av.VideoFrame] | None = None
        self.audio_chunks: list[np.ndarray] = []
        self.audio_start: float | None = None
        self.resampler = None
        self.out_size = (0, 0)
        self.scale = 1.0
        if audio is not None:
            self.resampler = av.AudioResampler(format="flt", layout="mono", rate=config.sample_rate)
        if video is not None:
            video.thread_type = "AUTO"
            video.codec_context.thread_count = config.threads
            if config.skip_nonref:
                video.codec_context.skip_frame = "NONREF"
            self._prepare_video()

    def _prepare_video(self) -> None:
        length = duration(self.container, self.video) or scan_duration(self.container, self.video)
        length = min(length, self.config.max_duration_s)
        self.targets = sample_targets(length, self.config.n_frames) if length > 0 else np.zeros(1)
        self.next_target = 0
        self.out_size = output_size(self.video, self.config.max_side)
        self.scale = self.out_size[0] / max(1, display_size(self.video)[0])
        stored_short = min(self.video.codec_context.width, self.video.codec_context.height)
        self.dense_step = max(1, stored_short // max(1, self.config.dense_short_side))

    def run(self) -> None:
        """Demuxes and decodes until the end of the file or the duration limit."""
        selected = [s for s in (self.video, self.audio) if s is not None]
        try:
            for packet in self.container.demux(*selected):
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
            self.rotation = rotation(frame)
        self.n_decoded += 1
        t = self._frame_time(frame)
        if t < self.config.dense_max_s:
            self.dense.append((t, self._luma(frame)))
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
        if self.kept_times and self.kept_times[-1] == t:
            return  # two targets nearest the same frame: keep it once
        width, height = self.out_size
        image = self._upright(frame.to_ndarray(format="rgb24", width=width, height=height))
        if self.kept_frames is None:  # one allocation, no stacking copy of ~200 MB at 1080p
            self.kept_frames = np.empty((len(self.targets), *image.shape), np.uint8)
        self.kept_frames[len(self.kept_times)] = image
        self.kept_times.append(t)

    def _luma(self, frame: av.VideoFrame) -> np.ndarray:
        """uint8 (h, w) luma decimated by `dense_step`, upright; stored aspect (not SAR-corrected)."""
        step = self.dense_step
        if frame.format.name in PLANAR_8BIT:
            plane = frame.planes[0]
            y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
            luma = y[::step, : plane.width : step].copy()
        else:  # 10-bit, RGB, palette (GIF): let swscale convert
            luma = frame.to_ndarray(format="gray", width=frame.width // step, height=frame.height // step)
        return self._upright(luma)

    def _upright(self, image: np.ndarray) -> np.ndarray:
        if not self.rotation:
            return image
        return np.ascontiguousarray(np.rot90(image, k=self.rotation // 90))

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
        """The kept frames, dense luma and audio as a Clip; raises EmptyMediaError if none decoded."""
        frames, times = self._frames()
        luma, luma_times = _stack(self.dense, (0, 0, 0))
        audio = self._audio_array()
        if len(frames) == 0 and len(audio) == 0:
            raise EmptyMediaError(f"{info.path}: no frame or audio sample could be decoded")
        return Clip(
            info=info,
            frames=frames,
            times_s=times,
            audio=audio,
            sample_rate=self.config.sample_rate,
            luma=luma,
            luma_times_s=luma_times,
            n_decoded_frames=self.n_decoded,
            truncated=self.truncated,
            scale=self.scale,
        )

    def _frames(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kept_frames is None:
            return np.zeros((0, 0, 0, 3), np.uint8), np.zeros(0, np.float64)
        return self.kept_frames[: len(self.kept_times)], np.array(self.kept_times, np.float64)

    def _audio_array(self) -> np.ndarray:
        if not self.audio_chunks:
            return np.zeros(0, np.float32)
        audio = np.concatenate(self.audio_chunks).astype(np.float32, copy=False)
        lead = int(round(max(0.0, self.audio_start or 0.0) * self.config.sample_rate))
        if lead:  # audio that starts after the video: pad so that sample times match frame times
            audio = np.concatenate([np.zeros(lead, np.float32), audio])
        limit = int(self.config.max_duration_s * self.config.sample_rate)
        return np.clip(audio[:limit], -1.0, 1.0)


def _stack(items: list[tuple[float, np.ndarray]], empty_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    if not items:
        return np.zeros(empty_shape, np.uint8), np.zeros(0, np.float64)
    return np.stack([image for _, image in items]), np.array([t for t, _ in items], np.float64)


def output_size(video, max_side: int) -> tuple[int, int]:
    """Stored-orientation size of kept frames: display aspect, longer side at most `max_side`."""
    width, height = display_size(video)
    scale = min(1.0, max_side / max(width, height, 1))
    return max(2, int(round(width * scale / 2)) * 2), max(2, int(round(height * scale / 2)) * 2)
