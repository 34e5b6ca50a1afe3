"""Session fixtures: generated test media, the awkward-input set, and the shared sample data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from media import load_face_images, shared_data_dir
from media_bad import BadInput, make_bad_inputs


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session-wide folder for generated media."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def bad_inputs(media_dir: Path) -> dict[str, BadInput]:
    """The awkward-input set (``media_bad.make_bad_inputs``), written once per session.

    "four_faces" and "speech_clip" are present only when the shared face data is.
    """
    return make_bad_inputs(media_dir / "bad")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared sample-data folder (``../shared/data`` or ``$AVDETECT_SHARED_DATA``); skips when absent."""
    path = shared_data_dir()
    if path is None:
        pytest.skip("shared sample data not found (../shared/data or $AVDETECT_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def face_images() -> list[np.ndarray]:
    """Four real faces, uint8 (100, 100, 3) RGB each; skips without the shared data."""
    try:
        return load_face_images(4)
    except FileNotFoundError as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small models on a shared 2-core machine run many times faster on one torch thread than on two."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
