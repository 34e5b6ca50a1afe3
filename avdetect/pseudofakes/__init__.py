"""Pseudo-fakes made from real faces, voices and videos, so a detector can learn from real footage alone.

`faces` blends faces into themselves or others (self-blended images, Face X-ray), `video` does so along
a face track, `voice` re-synthesises and splices speech, `codecs` round-trips audio through lossy
channels, `sync` shifts or swaps a video's audio. `preview` draws grids of them to look at.
"""

from avdetect.pseudofakes.codecs import CODECS, codec_roundtrip
from avdetect.pseudofakes.faces import BlendConfig, BlendParams, BlendResult, cross_blend, self_blend
from avdetect.pseudofakes.sync import partly_replace, random_shift, replace_audio, shift_audio
from avdetect.pseudofakes.video import TRACK_MODES, TrackBlend, blend_track
from avdetect.pseudofakes.voice import VOICE_FAKERS, griffin_lim, splice, voice_fake, world_resynth

__all__ = [
    "BlendConfig",
    "BlendParams",
    "BlendResult",
    "CODECS",
    "TRACK_MODES",
    "TrackBlend",
    "VOICE_FAKERS",
    "blend_track",
    "codec_roundtrip",
    "cross_blend",
    "griffin_lim",
    "partly_replace",
    "random_shift",
    "replace_audio",
    "self_blend",
    "shift_audio",
    "splice",
    "voice_fake",
    "world_resynth",
]
