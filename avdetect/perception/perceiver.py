"""The perception layer, top to bottom: decode -> faces (and mouths) -> audio, each stage timed."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from avdetect.perception.audio import MelConfig, MelExtractor, SpeechConfig, analyze_audio
from avdetect.perception.faces import FaceConfig, FaceDetector, dense_face_tracks
from avdetect.perception.mouth import MouthConfig, mouth_tracks
from avdetect.perception.video import DecodeConfig, read_clip
from avdetect.records import Perception, StageTimes

Hook = Callable[[str, Any], None]  # hook(stage, artefact), called after each stage (pyannote's idea)


@dataclass(frozen=True)
class PerceptionConfig:
    """Options of every perception stage, with production defaults."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    faces: FaceConfig = field(default_factory=FaceConfig)
    mel: MelConfig = field(default_factory=MelConfig)
    speech: SpeechConfig = field(default_factory=SpeechConfig)
    mouth: MouthConfig = field(default_factory=MouthConfig)


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

    def __call__(self, path: str | os.PathLike, hook: Hook | None = None) -> Perception:
        """Runs every stage on `path`. Raises the typed errors of `avdetect.perception.video.read_clip`."""
        hook = hook or _no_hook
        t0 = time.perf_counter()
        clip = read_clip(path, self.config.decode)
        hook("decode", clip)
        t1 = time.perf_counter()
        faces = self.detector(clip.frames, clip.times_s)
        mouths = mouth_tracks(faces, clip, self.config.mouth)
        dense_faces = dense_face_tracks(faces, clip)  # temporal face cues (issue 12)
        hook("faces", faces)
        t2 = time.perf_counter()
        audio = None
        if len(clip.audio):
            audio = analyze_audio(clip.audio, clip.sample_rate, self.mel, self.config.speech)
        hook("audio", audio)
        t3 = time.perf_counter()
        times = StageTimes(decode_s=t1 - t0, faces_s=t2 - t1, audio_s=t3 - t2)
        return Perception(clip=clip, faces=faces, audio=audio, mouths=mouths, dense_faces=dense_faces, times=times)


def _no_hook(stage: str, artefact: Any) -> None:
    return None
