"""The perception layer, top to bottom: decode -> faces (and mouths) -> audio, each stage timed.

With a thread pool the audio is decoded alone and analysed (VAD, log-mels) in a pool thread while this
thread decodes the video and finds the faces (issue 14): FFmpeg, numpy and torch release the GIL, so the
two overlap where a core is idle. The result is the one-pass result, array for array (tested).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from avdetect.errors import AvdetectError
from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig, analyze_audio
from avdetect.perception.faces import FaceConfig, FaceDetector, dense_face_tracks
from avdetect.perception.mouth import MouthConfig, mouth_tracks
from avdetect.perception.video import DecodeConfig, read_audio_alone, read_clip
from avdetect.records import AudioFeatures, Clip, Perception, StageTimes

Hook = Callable[[str, Any], None]  # hook(stage, artefact), called after each stage (pyannote's idea)


@dataclass(frozen=True)
class PerceptionConfig:
    """Options of every perception stage, with production defaults."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    faces: FaceConfig = field(default_factory=FaceConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    mouth: MouthConfig = field(default_factory=MouthConfig)


@dataclass(frozen=True)
class Heard:
    """What the audio thread made of one input."""

    clip: Clip | None  # the audio decoded alone (no frames); None when the input has no audio stream
    audio: AudioFeatures | None  # None without audio samples
    seconds: float  # wall time of the audio thread's work


class Perceiver:
    """Sees what is in a video: sampled frames, face tracks with crops, speech and log-mel windows.

    Args:
        config: options of every stage.
        device: torch device for the face detector.
    """

    def __init__(self, config: PerceptionConfig = PerceptionConfig(), *, device: str | torch.device = "cpu"):
        self.config = config
        self.detector = FaceDetector(config.faces, device=device)
        self.mel = MelExtractor(config.mel)

    def __call__(self, path: str | os.PathLike, hook: Hook | None = None, *,
                 pool: Executor | None = None) -> Perception:
        """Runs every stage on `path`; with `pool`, the audio stages run there while the video decodes.

        Raises the typed errors of `avdetect.perception.video.read_clip`.
        """
        hook = hook or _no_hook
        t0 = time.perf_counter()
        clip, heard = self._decode(path, pool.submit(self.hear, path) if pool is not None else None)
        hook("decode", clip)
        t1 = time.perf_counter()
        faces = self.detector(clip.frames, clip.times_s)
        mouths = mouth_tracks(faces, clip, self.config.mouth)
        dense_faces = dense_face_tracks(faces, clip)  # temporal face cues (issue 12)
        hook("faces", faces)
        t2 = time.perf_counter()
        audio = heard.audio if heard is not None else self.analyze(clip)
        hook("audio", audio)
        audio_s = heard.seconds if heard is not None else time.perf_counter() - t2
        times = StageTimes(decode_s=t1 - t0, faces_s=t2 - t1, audio_s=audio_s)
        return Perception(clip=clip, faces=faces, audio=audio, mouths=mouths, dense_faces=dense_faces, times=times)

    def hear(self, path: str | os.PathLike) -> Heard:
        """The audio of `path` decoded alone and analysed. Raises the typed errors of `read_clip`."""
        start = time.perf_counter()
        clip = read_audio_alone(path, self.config.decode)
        audio = self.analyze(clip) if clip is not None else None
        return Heard(clip, audio, time.perf_counter() - start)

    def analyze(self, clip: Clip) -> AudioFeatures | None:
        """Speech segments and log-mel windows of the clip's audio; None without audio samples."""
        if not len(clip.audio):
            return None
        return analyze_audio(clip.audio, clip.sample_rate, self.mel, self.config.speech)

    def decode_config(self) -> DecodeConfig:
        """The decoding options, FFmpeg's threads resolved: when the config leaves them to FFmpeg (0), as
        many as torch's intra-op threads, which `avdetect.workers` sets to CPUs / workers in each worker.
        One policy for 2 cores and for many, and no oversubscription with several workers."""
        decode = self.config.decode
        return decode if decode.threads else replace(decode, threads=torch.get_num_threads())

    def _decode(self, path: str | os.PathLike, heard: Future | None) -> tuple[Clip, Heard | None]:
        """The clip, and what the audio thread made of it (None: analyse the clip's audio here)."""
        decode = self.decode_config()
        if heard is None:
            return read_clip(path, decode), None
        try:
            video = read_clip(path, replace(decode, read_audio=False))
            sound: Heard = heard.result()
        except AvdetectError:
            # A file without video, or a broken one: the one-pass read gives the exact result or error.
            wait([heard])
            return read_clip(path, decode), None
        if sound.clip is None:  # no audio stream: the video pass is the whole clip
            return video, sound
        return merge_clips(video, sound.clip), sound


def merge_clips(video: Clip, sound: Clip) -> Clip:
    """The one-pass clip from a video-only and an audio-only decoding of the same file."""
    audio_facts = {name: getattr(sound.info, name)
                   for name in ("has_audio", "audio_codec", "audio_sample_rate", "audio_channels")}
    return replace(video, info=replace(video.info, **audio_facts), audio=sound.audio,
                   sample_rate=sound.sample_rate, truncated=video.truncated or sound.truncated)


def _no_hook(stage: str, artefact: Any) -> None:
    return None
