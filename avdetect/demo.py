"""`make demo`: the main job the project has so far, offline, on sample media.

Runs `avdetect inspect` on real clips from ../shared/data when present (a GRID speaker, a 1080p talking
head, a LibriSpeech utterance), else on a clip it makes itself with PyAV, so a fresh machine without
the sample data still shows the whole perception layer working.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import av
import numpy as np

from avdetect.cli import main as cli_main

SAMPLES = ("video/grid/bbaf2n.mpg", "video/talking-heads/LatentSync-demo1_video.mp4", "speech/vctk/p225_001_mic1.flac")


def shared_data() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("AVDETECT_SHARED_DATA", default))


def make_sample(path: Path, seconds: float = 3.0, fps: int = 25) -> Path:
    """A small H.264/AAC clip: a moving colour pattern and a 220 Hz tone with a silent lead-in."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream("aac", rate=16_000, layout="mono")
        yy, xx = np.mgrid[0:240, 0:320]
        for k in range(int(seconds * fps)):
            rgb = np.stack([(xx + 4 * k) % 256, (yy + 2 * k) % 256, np.full_like(xx, 128)], -1).astype(np.uint8)
            out.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(video.encode(None))
        t = np.arange(int(seconds * 16_000)) / 16_000
        tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.5)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 16_000
        out.mux(audio.encode(frame))
        out.mux(audio.encode(None))
    return path


def main() -> int:
    root = shared_data()
    paths = [root / p for p in SAMPLES if (root / p).exists()]
    with tempfile.TemporaryDirectory() as tmp:
        if not paths:
            print(f"(no sample data under {root}: inspecting a clip made now)")
            paths = [make_sample(Path(tmp) / "sample.mp4")]
        crops = Path("out/demo-crops")
        code = cli_main(["inspect", *map(str, paths), "--save-crops", str(crops)])
    print(f"\nface crops written under {crops}/ - open them to see what the detector saw")
    return code


if __name__ == "__main__":
    sys.exit(main())
