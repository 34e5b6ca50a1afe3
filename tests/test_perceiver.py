"""The perceiver with a helper thread (audio decoded and analysed while the video decodes) gives the
one-pass perception, array for array, on good and bad inputs alike; and typed errors stay typed."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from avdetect.errors import AvdetectError
from avdetect.perception.perceiver import Perceiver
from avdetect.records import StageTimes

CASES = ["speech_clip", "audio_only_wav", "audio_only_m4a", "video_only", "silent_audio", "audio_8k_stereo",
         "mpeg2_ps", "webm_vp9_opus", "vfr", "rotated_90", "random_bytes", "truncated_moov_end", "zero_bytes"]


@pytest.fixture(scope="module")
def perceiver():
    return Perceiver()


@pytest.fixture(scope="module")
def pool():
    with ThreadPoolExecutor(1) as executor:
        yield executor


def assert_same(a, b, where="perception"):
    """Equal field by field: integers exactly, floats to float noise and pixels to 1 level (MTCNN's boxes
    differ by ~3e-5 px between two calls in one process, thread or not, which can turn a level of a
    sub-pixel crop); NaN equals NaN; stage times left out."""
    assert type(a) is type(b), where
    if isinstance(a, StageTimes):
        return
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        if a.dtype.kind == "f":
            assert np.allclose(a, b, rtol=1e-5, atol=1e-4, equal_nan=True), where
        elif a.dtype == np.uint8 and a.size:
            assert np.abs(a.astype(np.int16) - b).max() <= 1, where
        else:
            assert np.array_equal(a, b), where
    elif isinstance(a, float):
        assert np.isclose(a, b, rtol=1e-5, atol=1e-4, equal_nan=True), where
    else:
        assert a == b, where


@pytest.mark.parametrize("name", CASES)
def test_overlapped_perception_is_the_one_pass_perception(perceiver, pool, bad_inputs, name):
    if name not in bad_inputs:
        pytest.skip(f"{name}: needs the shared face images")
    path = bad_inputs[name].path
    try:
        alone = perceiver(path)
    except AvdetectError as err:
        with pytest.raises(type(err)):
            perceiver(path, pool=pool)
        return
    assert_same(alone, perceiver(path, pool=pool))


def test_hook_sees_every_stage_in_order_with_the_pool(perceiver, pool, bad_inputs):
    stages = []
    seen = perceiver(bad_inputs["silent_audio"].path, lambda stage, artefact: stages.append(stage), pool=pool)
    assert stages == ["decode", "faces", "audio"] and seen.times.audio_s > 0
