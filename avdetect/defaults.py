"""The production constants, each defined once; a model bundle's `avdetect.spec.ScoringSpec` records the
values its branches were trained with, and scoring reads them from there."""

from __future__ import annotations

SAMPLE_RATE = 16_000  # Hz, mono: every audio stage (decode, log-mels, speech activity, pitch, pseudo-fakes)
FACE_MARGIN = 1 / 3  # of the face box's side, added on each side before cropping (DFDC winners' margin)
CROP_SIZE = 224  # pixels, side of a square face crop, as the visual backbone sees it
AUDIO_WINDOW_S = 2.0  # seconds of log-mel the audio branch scores at a time
SPEECH_METHODS = ("energy", "silero")  # speech detectors: numpy energy, or silero-vad
SPEECH_METHOD = "silero"  # beats energy on music, noise and leading silence (benchmarks/voice_features.py --vad)
