"""Scoring speed and memory on 10 s 1080p clips, as ratios to `ffmpeg -i CLIP -f null -` in one run.

    .venv/bin/python benchmarks/throughput.py [--clips 4] [--model DIR]

Makes DFDC-like clips at run time (benchmarks/perception.py: FF++ 750_743's 1080p H.264 stream remuxed
with AAC speech), then measures, on the same clips in the same run:
  1. ffmpeg's plain decode time per clip;
  2. per-stage times of `Detector.score` in this process (perceive = decode + faces + audio analysis,
     visual CNN, audio CNN, sync, fusion), after one warm-up clip;
  3. `avdetect score` over all clips as a separate process: wall time per video and peak memory (RSS
     of the process tree, from getrusage of the children).
Targets (issue 6): wall time per video within 1.5x ffmpeg's decode, peak memory under 2 GB.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perception import SPEECH, VIDEO_1080, make_dfdc_like, time_ffmpeg  # noqa: E402


def stage_times(detector, path: Path) -> dict[str, float]:
    """Seconds per stage of one `Detector.score`-equivalent pass, stage by stage."""
    from avdetect.perception.lipsync import sync_features

    t = [time.perf_counter()]
    seen = detector.perceiver(path)
    t.append(time.perf_counter())
    tracks = detector.score_faces(seen.faces)
    t.append(time.perf_counter())
    windows = detector.score_voice(seen.audio)
    t.append(time.perf_counter())
    sync = sync_features(seen.mouths, seen.clip.audio, seen.clip.sample_rate)
    t.append(time.perf_counter())
    detector.fuse(str(path), tracks, windows, sync)
    t.append(time.perf_counter())
    names = ["perceive", "visual_cnn", "audio_cnn", "sync", "fuse"]
    times = {n: b - a for n, a, b in zip(names, t, t[1:])}
    times.update(decode=seen.times.decode_s, faces=seen.times.faces_s, audio_prep=seen.times.audio_s)
    return times


def cli_run(clips: list[Path], out: Path, model: str | None) -> tuple[float, float]:
    """Wall seconds of `avdetect score` over `clips`, and peak RSS (GB) of its process tree."""
    cmd = [sys.executable, "-m", "avdetect.cli", "score", *map(str, clips), "-o", str(out), "--workers", "1"]
    if model:
        cmd += ["--model", model]
    start = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    wall = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, peak_kb / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    args = parser.parse_args()
    if not VIDEO_1080.exists() or not SPEECH.exists():
        print("skipped: shared sample data not found")
        return 0
    from avdetect.scoring.pipeline import Detector

    detector = Detector.load(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        source = make_dfdc_like(Path(tmp) / "clip0.mp4")
        clips = [source] + [Path(tmp) / f"clip{i}.mp4" for i in range(1, args.clips)]
        for clip in clips[1:]:
            clip.write_bytes(source.read_bytes())  # distinct files, same content
        ffmpeg = [time_ffmpeg(c) for c in clips]
        detector.score(clips[0])  # warm-up
        stages = [stage_times(detector, c) for c in clips]
        wall, peak_gb = cli_run(clips, Path(tmp) / "scores.csv", args.model)
    ff = statistics.median(ffmpeg)
    print(f"{len(clips)} DFDC-like clips, 1920x1080 H.264 10.4 s + AAC; medians; seconds per clip")
    print(f"{'stage':<14} {'seconds':>8} {'x ffmpeg':>9}")
    for name in ["decode", "faces", "audio_prep", "perceive", "visual_cnn", "audio_cnn", "sync", "fuse"]:
        value = statistics.median(s[name] for s in stages)
        print(f"{name:<14} {value:>8.2f} {value / ff:>8.2f}x")
    total = statistics.median(sum(s[k] for k in ("perceive", "visual_cnn", "audio_cnn", "sync", "fuse")) for s in stages)
    print(f"{'in-process':<14} {total:>8.2f} {total / ff:>8.2f}x")
    print(f"{'ffmpeg decode':<14} {ff:>8.2f} {1.0:>8.2f}x")
    print(f"{'avdetect score':<14} {wall / len(clips):>8.2f} {wall / len(clips) / ff:>8.2f}x  "
          f"(CLI wall per video incl. start-up and model loading, {len(clips)} clips)")
    print(f"peak memory of `avdetect score`: {peak_gb:.2f} GB (target < 2 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
