"""Decoding with PyAV: container facts, N frames sampled evenly in time in one pass, 16 kHz mono audio.

Only this module and its two helpers (`video_info`, `decoder`) touch PyAV objects.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import av
import numpy as np

from avdetect.defaults import SAMPLE_RATE
from avdetect.errors import DecodeError, EmptyMediaError, InputError
from avdetect.perception.decoder import DecodeConfig, OnePassDecoder
from avdetect.perception.video_info import first_frame_rotation, media_info, streams
from avdetect.records import Clip, MediaInfo

__all__ = ["DecodeConfig", "open_media", "probe", "read_clip", "read_audio_alone", "load_audio"]


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
        raise DecodeError(f"{path}: FFmpeg cannot open it ({getattr(e, 'strerror', None) or e})") from e


def probe(path: str | os.PathLike) -> MediaInfo:
    """Reads container facts without decoding more than the first video frame (for its rotation)."""
    with open_media(path) as container:
        video, audio = streams(container)
        turn = first_frame_rotation(container, video) if video is not None else 0
        return media_info(Path(path), container, video, audio, turn)


def read_clip(path: str | os.PathLike, config: DecodeConfig = DecodeConfig()) -> Clip:
    """Decodes `path` once: keeps `config.n_frames` frames evenly spaced in time, and all the audio.

    Raises:
        InputError: the path is not a readable file.
        DecodeError: FFmpeg cannot open the file or decode any of it.
        EmptyMediaError: the file has neither a decodable video frame nor decodable audio.
    """
    path = Path(path)
    with open_media(path) as container:
        video, audio = streams(container)
        video = video if config.read_video else None
        audio = audio if config.read_audio else None
        if video is None and audio is None:
            raise EmptyMediaError(f"{path}: no video or audio stream")
        decoder = OnePassDecoder(container, video, audio, config)
        decoder.run()
        info = media_info(path, container, video, audio, decoder.rotation)
        return decoder.to_clip(info)  # inside `with`: PyAV stream objects die with their container


def read_audio_alone(path: str | os.PathLike, config: DecodeConfig = DecodeConfig()) -> Clip | None:
    """The `read_clip` of `path` with the audio packets decoded alone; None when it has no audio stream.

    Its audio is the one `read_clip` decodes with both streams (same packets, same resampler, same lead
    padding), so that a scorer can analyse the audio while another thread decodes the video.
    """
    with open_media(path) as container:
        if streams(container)[1] is None:
            return None
    return read_clip(path, replace(config, read_video=False, read_audio=True))


def load_audio(path: str | os.PathLike, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 (N,) mono audio of `path` at `sample_rate`; (0,) when the file has no audio stream."""
    with open_media(path) as container:
        if not container.streams.audio:
            return np.zeros(0, np.float32)
    clip = read_clip(path, DecodeConfig(read_video=False, sample_rate=sample_rate))
    return clip.audio
