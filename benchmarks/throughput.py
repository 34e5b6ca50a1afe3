"""Scoring speed and memory on 10 s 1080p clips, as ratios to `ffmpeg -i CLIP -f null -` in one run.

    .venv/bin/python benchmarks/throughput.py [--clips 6] [--model DIR] [--ray]

Makes DFDC-like clips at run time (benchmarks/perception.py: FF++ 750_743's 1080p H.264 stream remuxed
with AAC speech), then measures, on the same clips in the same run:
  1. ffmpeg's plain decode time per clip;
  2. per-stage times of `Detector.score` in this process (decode, faces, audio analysis, visual CNN, audio
     CNN, hand-made sync, each feature block of the model's spec, fusion), after one warm-up clip, and
     the model's load time;
  3. `avdetect score` as a separate process, once on 1 clip and once on all: start-up (process, imports,
     model loading in the worker) apart from the warm wall time per clip, and peak memory (RSS of the
     process tree, from getrusage of the children);
  4. with --ray, the same through `--engine ray` with 1 and 2 local workers.
Targets (issue 14): warm wall per clip <= 1.5x ffmpeg's decode, peak memory <= 2 GB.
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

BRANCH_STAGES = ("decode", "faces", "audio_prep", "visual_cnn", "audio_cnn", "sync")


def stage_times(detector, path: Path) -> dict[str, float]:
    """Seconds per stage of one `Detector.score`-equivalent pass, stage by stage."""
    from avdetect.features.registry import get_extractor
    from avdetect.perception.lipsync import sync_features

    t0 = time.perf_counter()
    seen = detector.perceiver(path)
    t1 = time.perf_counter()
    tracks = detector.score_faces(seen.faces)
    t2 = time.perf_counter()
    windows = detector.score_voice(seen.audio)
    t3 = time.perf_counter()
    sync = sync_features(seen.mouths, seen.clip.audio, seen.clip.sample_rate)
    times = {"decode": seen.times.decode_s, "faces": seen.times.faces_s, "audio_prep": seen.times.audio_s,
             "perceive": t1 - t0, "visual_cnn": t2 - t1, "audio_cnn": t3 - t2, "sync": time.perf_counter() - t3}
    blocks = {}
    for name in detector.spec.extractors:
        if name in _video_extractors():
            start = time.perf_counter()
            blocks[name] = get_extractor(name)(seen)
            times[f"block {name}"] = time.perf_counter() - start
    start = time.perf_counter()
    detector.fuse(str(path), tracks, windows, sync, blocks)
    times["fuse"] = time.perf_counter() - start
    return times


def _video_extractors() -> set[str]:
    from avdetect.features.registry import VIDEO_EXTRACTORS

    return set(VIDEO_EXTRACTORS)


def cli_run(clips: list[Path], out: Path, model: str | None, *, engine: str = "local",
            workers: int = 1) -> float:
    """Wall seconds of one `avdetect score` over `clips` (a fresh output, so nothing is skipped)."""
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "avdetect.cli", "score", *map(str, clips), "-o", str(out),
           "--workers", str(workers), "--engine", engine]
    if model:
        cmd += ["--model", model]
    start = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    return time.perf_counter() - start


def measure_cli(clips: list[Path], tmp: Path, model: str | None, **kwargs) -> tuple[float, float]:
    """(start-up seconds, warm seconds per clip): one run on 1 clip, one on all, the difference per clip."""
    one = cli_run(clips[:1], tmp / "one.csv", model, **kwargs)
    every = cli_run(clips, tmp / "all.csv", model, **kwargs)
    per_clip = (every - one) / max(1, len(clips) - 1)
    return one - per_clip, per_clip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--ray", action="store_true", help="also time --engine ray with 1 and 2 workers")
    args = parser.parse_args()
    if not VIDEO_1080.exists() or not SPEECH.exists():
        print("skipped: shared sample data not found")
        return 0
    from avdetect.scoring.pipeline import Detector

    start = time.perf_counter()
    detector = Detector.load(args.model)
    load_s = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        source = make_dfdc_like(tmp / "clip0.mp4")
        clips = [source] + [tmp / f"clip{i}.mp4" for i in range(1, args.clips)]
        for clip in clips[1:]:
            clip.write_bytes(source.read_bytes())  # distinct files, same content
        ffmpeg = [time_ffmpeg(c) for c in clips]
        detector.score(clips[0])  # warm-up
        stages = [stage_times(detector, c) for c in clips]
        startup, per_clip = measure_cli(clips, tmp, args.model)
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
        ray = {n: measure_cli(clips, tmp, args.model, engine="ray", workers=n) for n in (1, 2)} if args.ray else {}
    ff = statistics.median(ffmpeg)
    print(f"{len(clips)} DFDC-like clips, 1920x1080 H.264 10.4 s + AAC; medians; seconds per clip")
    print(f"{'stage':<26} {'seconds':>8} {'x ffmpeg':>9}")
    names = [*BRANCH_STAGES, *(k for k in stages[0] if k.startswith("block ")), "fuse"]
    for name in names:
        value = statistics.median(s[name] for s in stages)
        print(f"{name:<26} {value:>8.2f} {value / ff:>8.2f}x")
    total = statistics.median(s["perceive"] + sum(v for k, v in s.items() if k in names[3:]) for s in stages)
    print(f"{'in-process, all stages':<26} {total:>8.2f} {total / ff:>8.2f}x")
    print(f"{'ffmpeg decode':<26} {ff:>8.2f} {1.0:>8.2f}x")
    print(f"{'avdetect score, warm':<26} {per_clip:>8.2f} {per_clip / ff:>8.2f}x  (CLI wall per extra clip)")
    print(f"{'avdetect score, start-up':<26} {startup:>8.2f}           (process, imports, model load; "
          f"Detector.load alone {load_s:.2f} s)")
    for n, (up, warm) in ray.items():
        print(f"{f'ray, {n} worker(s), warm':<26} {warm:>8.2f} {warm / ff:>8.2f}x  (start-up {up:.1f} s)")
    print(f"peak memory of `avdetect score`: {peak_gb:.2f} GB (target <= 2 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
