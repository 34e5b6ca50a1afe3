"""The offline GAN face generator (training-data tool): skips cleanly without random-face or openvino."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from avdetect.corpus.synth_faces import gan
from avdetect.errors import EngineMissingError

HAVE_GAN = importlib.util.find_spec("random_face") is not None and importlib.util.find_spec("openvino") is not None


def test_a_missing_package_raises_a_typed_error_that_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(EngineMissingError, match="random-face"):
        gan.model_files()


@pytest.mark.skipif(not HAVE_GAN, reason="random-face and openvino are not installed")
def test_gan_faces_are_faces_reproducible_by_seed_and_random_face_is_never_imported():
    config = gan.GanFaceConfig(mean_samples=64)
    faces = gan.GanFaces(config, seed=1)
    first, again = faces(), gan.GanFaces(config, seed=1)()
    assert first.shape == (1024, 1024, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(faces(), first)  # its own stream moves on; a given generator repeats a face
    np.testing.assert_array_equal(faces(np.random.default_rng(5)), faces(np.random.default_rng(5)))
    assert 40 < first.mean() < 220 and first.std() > 20  # an image, not a flat or saturated field
    assert "random_face" not in sys.modules


def test_a_gan_face_swap_changes_only_the_face():
    rng = np.random.default_rng(0)
    target = np.full((224, 224, 3), 120, np.uint8)
    face = rng.integers(0, 255, (256, 256, 3), dtype=np.uint8)
    marks = np.array([[85, 95], [139, 95], [112, 125], [90, 155], [134, 155]], np.float32)
    result = gan.gan_face_swap(target, marks, face, marks * 256 / 224, rng)
    assert result.image.shape == target.shape
    assert result.mask[112, 112] > 0 and result.mask[5, 5] == 0
    assert np.all(result.image[:10, :10] == 120) and np.any(result.image[100:130, 100:130] != 120)
