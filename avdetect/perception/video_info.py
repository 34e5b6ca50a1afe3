"""Container and stream facts read through PyAV: streams, rotation, display size, duration."""

from __future__ import annotations

from pathlib import Path

import av

from avdetect.records import MediaInfo


def streams(container: av.container.InputContainer):
    """The first video and first audio stream that have a decoder, each or both None."""
    video = next((s for s in container.streams.video if s.codec_context is not None), None)
    audio = next((s for s in container.streams.audio if s.codec_context is not None), None)
    return video, audio


def rotation(frame: av.VideoFrame) -> int:
    """Counter-clockwise degrees (a multiple of 90) that turn the stored frame upright."""
    return int(round((frame.rotation or 0) / 90.0)) * 90 % 360


def first_frame_rotation(container, video) -> int:
    try:
        frame = next(container.decode(video), None)
    except av.FFmpegError:
        return 0
    return rotation(frame) if frame is not None else 0


def display_size(video) -> tuple[int, int]:
    """Stored size corrected for non-square pixels (anamorphic video), before rotation."""
    width, height = video.codec_context.width, video.codec_context.height
    sar = video.sample_aspect_ratio or video.codec_context.sample_aspect_ratio
    if sar and float(sar) > 0 and abs(float(sar) - 1.0) > 1e-3:
        width = int(round(width * float(sar) / 2)) * 2
    return width, height


def duration(container, stream) -> float:
    """Seconds the stream (else the container) says it lasts; 0.0 when neither says."""
    if stream is not None and stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def start_time(container) -> float:
    return container.start_time / av.time_base if container.start_time is not None else 0.0


def scan_duration(container, video) -> float:
    """Reads packet timestamps (no decoding) to find the duration the header does not state."""
    last = 0.0
    for packet in container.demux(video):
        if packet.pts is not None and packet.time_base:
            last = max(last, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    container.seek(0)
    return max(0.0, last - start_time(container))


def media_info(path: Path, container, video, audio, turn: int) -> MediaInfo:
    """MediaInfo of an open container; `turn` is the rotation read from the first frame."""
    width, height, fps = 0, 0, 0.0
    if video is not None:
        width, height = display_size(video)
        if turn in (90, 270):
            width, height = height, width
        rate = video.average_rate or video.guessed_rate
        fps = float(rate) if rate else 0.0
    return MediaInfo(
        path=str(path),
        format_name=container.format.name,
        duration_s=duration(container, video or audio),
        size_bytes=path.stat().st_size,
        has_video=video is not None,
        has_audio=audio is not None,
        width=width,
        height=height,
        fps=round(fps, 3),
        rotation=turn,
        video_codec=video.codec_context.name if video is not None else "",
        audio_codec=audio.codec_context.name if audio is not None else "",
        audio_sample_rate=(audio.codec_context.sample_rate or 0) if audio is not None else 0,
        audio_channels=(audio.codec_context.channels or 0) if audio is not None else 0,
    )
