"""Video-level pseudo-fakes made from cached real videos, so every branch and the stacker see them.

Each variant is a new cache entry (a `Perception`) and a new manifest row whose path is the source
path plus `#<kind>=<detail>` and whose group is the source's group, so folds never put a variant and
its source on two sides. Kinds:

* `shift`: the audio delayed or advanced by 0.2-1 s (FAKE; video REAL, audio REAL: only sync is off).
* `dub`: the audio replaced by another speaker's (FAKE; audio FAKE, as FakeAVCeleb's RealVideo-FakeAudio).
* `revoice`: the speech re-synthesised by a vocoder (FAKE; audio FAKE).
* `blend`: faces self-blended along each track, steady, flickering or on a stretch only (FAKE; video
  FAKE), the video-level form of self-blended images (Shiohara & Yamasaki, CVPR 2022).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from avdetect.perception.audio import MelExtractor, SpeechConfig, analyze_audio
from avdetect.pseudofakes.sync import replace_audio, shift_audio
from avdetect.pseudofakes.video import TRACK_MODES, blend_track
from avdetect.pseudofakes.voice import voice_fake
from avdetect.records import Perception
from stacking.segments import runs

FAKE, REAL = "FAKE", "REAL"
# (video_label, audio_label) of each kind; every variant's label is FAKE
KIND_LABELS: dict[str, tuple[str, str]] = {
    "shift": (REAL, REAL),
    "dub": (REAL, FAKE),
    "revoice": (REAL, FAKE),
    "blend": (FAKE, REAL),
}


@dataclass(frozen=True)
class Variant:
    """One pseudo-fake made from a real video."""

    tag: str  # appended to the source path after '#', e.g. "shift=+0.52"
    video_label: str
    audio_label: str
    fake_segments: tuple[tuple[float, float], ...]
    perception: Perception


@dataclass(frozen=True)
class VariantInputs:
    """What a variant maker may use besides the source."""

    donor_audio: np.ndarray  # float32 (N,) another speaker's real speech at the clip's rate, or (0,)
    extractor: MelExtractor
    speech: SpeechConfig


def _with_audio(seen: Perception, audio: np.ndarray, inputs: VariantInputs) -> Perception:
    clip = replace(seen.clip, audio=audio.astype(np.float32))
    features = analyze_audio(clip.audio, clip.sample_rate, inputs.extractor, inputs.speech)
    return replace(seen, clip=clip, audio=features)


def make_shift(seen: Perception, rng: np.random.Generator, inputs: VariantInputs) -> Variant | None:
    if seen.audio is None or not seen.mouths:
        return None
    offset = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 1.0))
    audio = shift_audio(seen.clip.audio, seen.clip.sample_rate, offset, rng=rng)
    duration = seen.clip.audio_duration_s
    return Variant(f"shift={offset:+.2f}", *KIND_LABELS["shift"], ((0.0, duration),), _with_audio(seen, audio, inputs))


def make_dub(seen: Perception, rng: np.random.Generator, inputs: VariantInputs) -> Variant | None:
    if seen.audio is None or not seen.mouths or len(inputs.donor_audio) == 0:
        return None
    audio = replace_audio(seen.clip.audio, inputs.donor_audio, sample_rate=seen.clip.sample_rate, rng=rng)
    duration = seen.clip.audio_duration_s
    return Variant("dub=other", *KIND_LABELS["dub"], ((0.0, duration),), _with_audio(seen, audio, inputs))


def make_revoice(seen: Perception, rng: np.random.Generator, inputs: VariantInputs) -> Variant | None:
    if seen.audio is None or seen.audio.speech_s < 0.5:
        return None
    name = str(rng.choice(["griffin_lim", "world", "world_pitch"]))
    audio = voice_fake(name, seen.clip.audio, rng)[: len(seen.clip.audio)]
    duration = seen.clip.audio_duration_s
    return Variant(f"revoice={name}", *KIND_LABELS["revoice"], ((0.0, duration),), _with_audio(seen, audio, inputs))


def make_blend(seen: Perception, rng: np.random.Generator, inputs: VariantInputs) -> Variant | None:
    if not seen.faces.tracks:
        return None
    mode = str(rng.choice(sorted(TRACK_MODES)))
    tracks, segments = [], []
    for track in seen.faces.tracks:
        blend = blend_track(track.crops, track.crop_landmarks(), rng, mode=mode)
        tracks.append(replace(track, crops=blend.crops))
        segments.extend((round(float(track.times_s[a]), 3), round(float(track.times_s[b]), 3))
                        for a, b in runs(blend.fake))
    faces = replace(seen.faces, tracks=tuple(tracks))
    return Variant(f"blend={mode}", *KIND_LABELS["blend"], tuple(segments), replace(seen, faces=faces))


MAKERS: dict[str, Callable[[Perception, np.random.Generator, VariantInputs], Variant | None]] = {
    "shift": make_shift,
    "dub": make_dub,
    "revoice": make_revoice,
    "blend": make_blend,
}
SYNC_BREAKING = frozenset({"shift", "dub"})  # revoice keeps the words' timing, blend keeps the audio
# The sound is another person's real recording: fake beside this face, a genuine voice on its own
FOREIGN_VOICE = frozenset({"dub"})


def variant_kind(path: object) -> str | None:
    """The kind of variant a manifest path names (``shift`` for ``clip.mp4#shift=+0.52``); None for a source."""
    _, sep, tag = str(path).rpartition("#")
    kind = tag.split("=", 1)[0]
    return kind if sep and kind in MAKERS else None


def foreign_voice(path: object) -> bool:
    """True when a manifest path names a variant whose sound is another speaker's real speech (a dub).

    Its audio label is FAKE (the voice is not this face's), but a voice classifier, which hears the sound
    alone, hears a real voice: trained on it as a fake voice it learns noise. Lip sync is what tells.
    """
    return variant_kind(path) in FOREIGN_VOICE


def sync_label(path: object, label: str) -> int:
    """1 when the lips and voice of a manifest row disagree, 0 when they agree, -1 when unknown.

    Real videos agree; our variants say by their kind; other fakes are unknown: a lip-sync generator aims
    at agreement and may miss, a face swap keeps the voice it was filmed with.
    """
    kind = variant_kind(path)
    if kind is not None:
        return int(kind in SYNC_BREAKING)
    return 0 if label == REAL else -1


def make_variants(
    seen: Perception, kinds: list[str], rng: np.random.Generator, inputs: VariantInputs
) -> list[Variant]:
    """The variants of `kinds` that apply to `seen` (no audio: no shift; no face: no blend).

    Raises:
        ValueError: an unknown kind (the message lists the valid ones).
    """
    unknown = sorted(set(kinds) - set(MAKERS))
    if unknown:
        raise ValueError(f"unknown variant kinds {unknown}; valid: {', '.join(MAKERS)}")
    made = (MAKERS[kind](seen, rng, inputs) for kind in kinds)
    return [v for v in made if v is not None]
