"""Video-level pseudo-fakes: labels, what changes and what stays, reruns that redo nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avdetect.corpus.variants import VariantInputs, foreign_voice, make_variants, sync_label, variant_kind
from avdetect.perception.audio import MelExtractor, SpeechConfig
from avdetect.perception.perceiver import Perceiver


@pytest.fixture(scope="module")
def seen(bad_inputs):
    if "speech_clip" not in bad_inputs:
        pytest.skip("needs the shared face images")
    return Perceiver()(bad_inputs["speech_clip"].path)


def _inputs(donor: np.ndarray) -> VariantInputs:
    return VariantInputs(donor, MelExtractor(), SpeechConfig())


def test_each_kind_changes_only_its_modality(seen):
    donor = (0.2 * np.sin(np.arange(48_000) * 0.05)).astype(np.float32)
    variants = {v.tag.split("=")[0]: v for v in make_variants(seen, ["shift", "dub", "revoice", "blend"],
                                                              np.random.default_rng(0), _inputs(donor))}
    assert set(variants) == {"shift", "dub", "revoice", "blend"}
    shift, dub, blend = variants["shift"], variants["dub"], variants["blend"]
    assert (shift.video_label, shift.audio_label) == ("REAL", "REAL")
    assert (dub.video_label, dub.audio_label) == ("REAL", "FAKE")
    assert (blend.video_label, blend.audio_label) == ("FAKE", "REAL")
    assert not np.array_equal(shift.perception.clip.audio, seen.clip.audio)
    assert shift.perception.faces is seen.faces  # the faces stay real
    assert blend.perception.clip.audio is seen.clip.audio and blend.fake_segments
    changed = blend.perception.faces.tracks[0].crops.astype(int) - seen.faces.tracks[0].crops.astype(int)
    assert np.abs(changed).max() > 0
    assert len(shift.perception.audio.windows.mels) > 0  # windows recomputed on the new audio


def test_no_donor_no_dub_and_unknown_kind_is_refused(seen):
    none = make_variants(seen, ["dub"], np.random.default_rng(0), _inputs(np.zeros(0, np.float32)))
    assert none == []
    with pytest.raises(ValueError, match="valid"):
        make_variants(seen, ["warp"], np.random.default_rng(0), _inputs(np.zeros(0, np.float32)))


def test_sync_label_says_which_rows_have_lips_and_voice_apart() -> None:
    assert variant_kind("/d/clip.mp4#shift=+0.52") == "shift" and variant_kind("/d/clip.mp4") is None
    assert variant_kind("/d/odd#name.mp4") is None  # a '#' in a file name is not a variant
    assert [sync_label(f"/d/c.mp4#{tag}", "FAKE") for tag in ("shift=-0.30", "dub=other", "revoice=world",
                                                            "blend=steady")] == [1, 1, 0, 0]
    assert sync_label("/d/real.mp4", "REAL") == 0
    assert sync_label("/d/wav2lip.mp4", "FAKE") == -1  # a generator's fake: unknown, not "out of sync"


def test_only_a_dub_carries_another_speakers_real_voice() -> None:
    """The voice CNN leaves these out of training: a real voice labelled FAKE for the face it was put on."""
    tags = ("dub=other", "shift=+0.52", "revoice=world", "blend=steady")
    assert [foreign_voice(f"/d/c.mp4#{tag}") for tag in tags] == [True, False, False, False]
    assert not foreign_voice("/d/dub=other.mp4") and not foreign_voice("/d/fake.wav")


def test_variant_draws_do_not_depend_on_where_the_data_lies() -> None:
    """The recipe's manifests must come out the same from any work folder or checkout."""
    from avdetect.corpus.variant_cache import row_rng

    draw = lambda path: row_rng(0, Path(path)).random(4).tolist()  # noqa: E731
    assert draw("/work/shared/data/speech/vctk/p225.flac") == draw("/elsewhere/data/speech/vctk/p225.flac")
    assert draw("/data/speech/vctk/p225.flac") != draw("/data/speech/vctk/p226.flac")
    assert row_rng(1, Path("/d/vctk/p225.flac")).random() != row_rng(0, Path("/d/vctk/p225.flac")).random()
