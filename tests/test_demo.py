"""`make demo`'s media: the clips it writes are the same bytes on every run, so its table is too."""

from __future__ import annotations

import hashlib

import numpy as np

from avdetect.corpus.media_writer import write_clip


def test_written_clip_is_the_same_bytes_each_time(tmp_path):
    rng = np.random.default_rng(0)
    base = np.linspace(0, 255, 64 * 48 * 3).reshape(48, 64, 3)
    frames = np.clip(base[None] + rng.normal(0, 20, (10, 48, 64, 3)), 0, 255).astype(np.uint8)
    audio = (0.1 * np.sin(np.arange(16000) / 10)).astype(np.float32)
    digests = {hashlib.sha256(write_clip(tmp_path / f"{i}.mp4", frames, 25.0, audio).read_bytes()).hexdigest()
               for i in range(12)}
    assert len(digests) == 1  # with x264's macroblock tree on, these 12 gave 2 different files
