"""The stretch of a video's audio that the voice feature blocks measure: its detected speech."""

from __future__ import annotations

import numpy as np

from avdetect.perception.audio import MelExtractor, SpeechConfig, analyze_audio
from avdetect.records import Clip, Faces, MediaInfo, Perception


def speech_excerpt(perception: Perception, max_s: float) -> np.ndarray | None:
    """float32 (N,) audio from the first to the last detected speech, at most ``max_s`` from its middle.

    Measuring only the speech keeps silent lead-ins and tails (a known dataset shortcut) out of the
    statistics; the cap bounds the cost on long inputs.

    Returns:
        The excerpt at ``perception.clip.sample_rate``, or None when the input has no audio track or no
        speech was detected.
    """
    audio = perception.audio
    if audio is None or len(audio.speech_segments) == 0:
        return None
    rate = perception.clip.sample_rate
    start, end = audio.speech_start_s, audio.speech_end_s
    if end - start > max_s:
        start = (start + end - max_s) / 2
        end = start + max_s
    excerpt = perception.clip.audio[int(start * rate) : int(np.ceil(end * rate))]
    return excerpt if len(excerpt) else None


def audio_perception(audio: np.ndarray, sample_rate: int, speech: SpeechConfig = SpeechConfig()) -> Perception:
    """The `Perception` of an audio-only input (no frames, no faces): for measuring voice blocks on raw audio.

    Args:
        audio: float32 (N,) mono in [-1, 1] at ``sample_rate`` (that of the mel config, 16 kHz).
        sample_rate: Hz.
        speech: the speech detector's settings.
    """
    info = MediaInfo(path="", format_name="", duration_s=len(audio) / sample_rate, size_bytes=0,
                     has_video=False, has_audio=True)
    clip = Clip(info=info, frames=np.zeros((0, 0, 0, 3), np.uint8), times_s=np.zeros(0), audio=audio,
                sample_rate=sample_rate)
    faces = Faces(tracks=(), n_frames=0, detected_frame_idx=np.zeros(0, np.int64), detect_scale=1.0)
    return Perception(clip=clip, faces=faces, audio=analyze_audio(audio, sample_rate, MelExtractor(), speech))
