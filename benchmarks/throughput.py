"""Scoring speed and memory on 10 s 1080p H.264 + AAC clips, as ratios to `ffmpeg -f null` in one run.

    .venv/bin/python benchmarks/throughput.py [--clips 6] [--folder 20] [--model DIR] [--ray] [--clip-dir DIR]
        [--device cuda:0] [--workers N] [--reference auto|ffmpeg|libav]

Makes 6 different DFDC-like clips from shared-data footage (`bench_clips.py`; kept in --clip-dir when
given), then measures on the same clips in the same run:
  1. ffmpeg's plain decode (`ffmpeg -i CLIP -f null -`, its default threads) of each clip;
  2. in this process, after one warm-up clip: per-stage times of the sequential `Detector.score` (decode,
     faces, audio analysis, visual CNN, audio CNN, hand-made sync, each feature block of the model's
     spec, fusion), and the wall time of `Detector.score` with the overlap (the default), and in --fast;
  3. `avdetect score` as a separate process, once on 1 clip and once on a folder of --folder clips
     (the clips repeated): start-up (process, imports, model loading in the worker) apart from the warm
     wall time per clip, and peak memory of the process tree (sum of PSS, sampled every 0.1 s); the same
     with --fast on the clips;
  4. with --ray, `--engine ray` with 1 and 2 local workers on the clips.
`--device` runs the face detector and the CNNs there (in this process and the CLI's workers); `--workers`
is the CLI's (local engine, default 1: clips one at a time, every core for each). Where the
ffmpeg program is missing (imageio-ffmpeg not installed, as on the GPU machine), `--reference libav` (the
default there) times PyAV's own decode of every packet with ffmpeg's threading instead
(`perception.time_libav_decode`; on this machine's six clips it takes 0.81-1.05x the program's time, so
ratios to it are if anything stricter).
In-process stages run with glibc's malloc thresholds raised, as the command line runs them
(`avdetect/allocator.py`). `--batch-sizes 1,8,64` measures only the face CNN: the clips' face crops through `predict_crops` at each
batch size (interleaved rounds, median), seconds per 32 crops and the peak memory it adds to this process.
Targets (issue 14): warm CLI wall per clip <= 1.5x ffmpeg's decode, --fast <= 1.1x, peak memory <= 2 GB for
a folder of 20 clips.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_clips import make_clips  # noqa: E402
from perception import decode_reference  # noqa: E402

BRANCH_STAGES = ("decode", "faces", "audio_prep", "visual_cnn", "audio_cnn", "sync")


def stage_times(detector, path: Path) -> dict[str, float]:
    """Seconds per stage of one sequential `Detector.score`-equivalent pass, stage by stage."""
    from avdetect.features.registry import VIDEO_EXTRACTORS, get_extractor
    from avdetect.perception.lipsync import clip_sync

    t0 = time.perf_counter()
    seen = detector.perceiver(path)
    t1 = time.perf_counter()
    tracks = detector.score_faces(seen.faces)
    t2 = time.perf_counter()
    windows = detector.score_voice(seen.audio)
    t3 = time.perf_counter()
    sync = clip_sync(seen)
    times = {"decode": seen.times.decode_s, "faces": seen.times.faces_s, "audio_prep": seen.times.audio_s,
             "perceive": t1 - t0, "visual_cnn": t2 - t1, "audio_cnn": t3 - t2, "sync": time.perf_counter() - t3}
    blocks = {}
    for name in (n for n in detector.spec.extractors if n in VIDEO_EXTRACTORS):
        start = time.perf_counter()
        blocks[name] = get_extractor(name)(seen, detector.bundle.directory)
        times[f"block {name}"] = time.perf_counter() - start
    start = time.perf_counter()
    detector.fuse(str(path), tracks, windows, sync, blocks)
    times["fuse"] = time.perf_counter() - start
    times["all"] = time.perf_counter() - t0
    return times


def wall(detector, path: Path) -> float:
    start = time.perf_counter()
    detector.score(path)
    return time.perf_counter() - start


def tree_memory(pid: int) -> int:
    """Bytes of memory of process `pid` and all its descendants: the sum of their proportional set sizes
    (PSS: a page shared by k processes counts 1/k in each, so torch's libraries count once, not per
    process as in a sum of RSS)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            rollup = Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:")), 0)
    return total


class Peak:
    """The highest value `read()` returns, sampled every `interval` seconds in a thread while in the
    ``with`` block (`value`; `reset` starts a new peak)."""

    def __init__(self, read: Callable[[], int], interval: float) -> None:
        self.read, self.interval, self.value = read, interval, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> Peak:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def reset(self) -> int:
        """Starts a new peak from the current value, which it returns."""
        self.value = self.read()
        return self.value

    def _sample(self) -> None:
        while not self.stop.is_set():
            self.value = max(self.value, self.read())
            time.sleep(self.interval)


def cli_run(clips: list[Path], out: Path, model: str | None, *, engine: str = "local", workers: int = 1,
            fast: bool = False, device: str = "cpu") -> tuple[float, int]:
    """(wall seconds, peak bytes of the process tree) of one `avdetect score` over `clips`, fresh output."""
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "avdetect.cli", "score", *map(str, clips), "-o", str(out),
           "--workers", str(workers), "--engine", engine, *(["--model", model] if model else []),
           "--device", device, *(["--fast"] if fast else [])]
    start = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with Peak(lambda: tree_memory(process.pid), 0.1) as peak:
        _, err = process.communicate()
        seconds = time.perf_counter() - start
    if process.returncode not in (0, 1):
        print(f"warning: {' '.join(cmd[2:5])} exited {process.returncode}: {err.decode()[-400:]}", file=sys.stderr)
    return seconds, peak.value


def measure_cli(clips: list[Path], tmp: Path, model: str | None, **kwargs) -> dict[str, float]:
    """Start-up and warm seconds per clip (one run on 1 clip, one on all; the difference per extra clip)."""
    one, _ = cli_run(clips[:1], tmp / "one.csv", model, **kwargs)
    every, peak = cli_run(clips, tmp / "all.csv", model, **kwargs)
    per_clip = (every - one) / max(1, len(clips) - 1)
    return {"startup": one - per_clip, "per_clip": per_clip, "peak_gb": peak / 1e9, "n": len(clips)}


def rss_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def batch_size_table(detector, clips: list[Path], sizes: list[int], rounds: int = 3) -> None:
    """Prints, per batch size, the face CNN's seconds per 32 crops and the memory it adds at its peak."""
    crops = np.concatenate([t.crops for c in clips for t in detector.perceiver(c).faces.tracks])
    seconds: dict[int, list[float]] = {n: [] for n in sizes}
    added: dict[int, int] = dict.fromkeys(sizes, 0)
    detector.visual.predict_crops(crops[:8])  # warm-up
    with Peak(rss_bytes, 0.002) as peak:
        for _ in range(rounds):
            for n in sizes:
                gc.collect()
                base = peak.reset()
                start = time.perf_counter()
                detector.visual.predict_crops(crops, batch_size=n)
                seconds[n].append((time.perf_counter() - start) * 32 / len(crops))
                added[n] = max(added[n], peak.value - base)
    print(f"face CNN on {len(crops)} crops of {len(clips)} clips, median of {rounds} interleaved rounds")
    print(f"{'batch size':>10} {'s per 32 crops':>15} {'peak added (GB)':>16}")
    for n in sizes:
        print(f"{n:>10} {statistics.median(seconds[n]):>15.3f} {added[n] / 1e9:>16.2f}")


def median_stages(detector, clips: list[Path]) -> dict[str, float]:
    runs = [stage_times(detector, c) for c in clips]
    return {name: statistics.median(r[name] for r in runs) for name in runs[0]}


def report(clips, ffmpeg, stages, overlap_s, fast_s, load_s, cli, cli_fast, ray, reference: str) -> None:
    ff = statistics.mean(ffmpeg.values())
    what = "`ffmpeg -f null`" if reference == "ffmpeg" else "PyAV's decode of every packet (no ffmpeg program)"
    print(f"{len(clips)} clips, 10 s 1080p H.264 + AAC (bench_clips.py); seconds per clip: medians in this process, "
          f"CLI from wall differences; ffmpeg = mean of {what} over the clips = {ff:.2f} s")
    print(f"{'stage (sequential)' if stages else 'CLI only':<34} {'seconds':>8} {'x ffmpeg':>9}")
    if stages:  # not with --cli-only
        names = [*BRANCH_STAGES, *(k for k in stages if k.startswith("block ")), "fuse", "all"]
        for name in names:
            print(f"{name:<34} {stages[name]:>8.2f} {stages[name] / ff:>8.2f}x")
        print(f"{'Detector.score, overlapped':<34} {overlap_s:>8.2f} {overlap_s / ff:>8.2f}x")
        print(f"{'Detector.score, --fast':<34} {fast_s:>8.2f} {fast_s / ff:>8.2f}x")
    for label, m in (("avdetect score", cli), ("avdetect score --fast", cli_fast),
                     *((f"--engine ray, {n} worker(s)", m) for n, m in ray.items())):
        ref = statistics.mean(ffmpeg[c] for c in m["clips"][1:])
        print(f"{label + ', warm per clip':<34} {m['per_clip']:>8.2f} {m['per_clip'] / ref:>8.2f}x  "
              f"(start-up {m['startup']:.1f} s; peak {m['peak_gb']:.2f} GB over {m['n']} clips)")
    if stages:
        print(f"model load alone (Detector.load): {load_s:.2f} s")


def in_process(args: argparse.Namespace, clips: list[Path]) -> tuple[dict[str, float], float, float, float]:
    """(median stage times, overlapped and --fast wall per clip, model load seconds) in this process."""
    from avdetect.scoring.pipeline import Detector

    start = time.perf_counter()
    detector = Detector.load(args.model, overlap=False, device=args.device)
    load_s = time.perf_counter() - start
    overlapped = Detector(detector.bundle, device=args.device)
    fast = Detector(detector.bundle, mode="fast", device=args.device)
    for d in (detector, overlapped, fast):
        d.score(clips[0])  # warm-up
    stages = median_stages(detector, clips)
    overlap_s = statistics.median(wall(overlapped, c) for c in clips)
    fast_s = statistics.median(wall(fast, c) for c in clips)
    return stages, overlap_s, fast_s, load_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=6, help="distinct clips (at most 6)")
    parser.add_argument("--folder", type=int, default=20, help="clips in the CLI's folder run (memory target)")
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--ray", action="store_true", help="also time --engine ray with 1 and 2 workers")
    parser.add_argument("--clip-dir", type=Path, help="where the clips are made, or found from a previous run")
    parser.add_argument("--batch-sizes", help="comma-separated: time only the face CNN at these batch sizes")
    parser.add_argument("--device", default="cpu", help="torch device of the detector and CNNs (default cpu)")
    parser.add_argument("--workers", type=int, default=1, help="the CLI runs' local workers (default 1; above 1 the "
                        "--fast run also takes the folder, so that every worker has clips to score)")
    parser.add_argument("--cli-only", action="store_true", help="only the CLI runs: no per-stage table")
    parser.add_argument("--reference", choices=("auto", "ffmpeg", "libav"), default="auto",
                        help="the decode the times are divided by (default auto: ffmpeg's program where installed)")
    args = parser.parse_args()
    reference, timer = decode_reference(args.reference)
    from avdetect.allocator import keep_large_buffers
    from avdetect.scoring.pipeline import Detector

    keep_large_buffers()  # as the command line and its workers run (avdetect/allocator.py)

    if args.batch_sizes:
        with tempfile.TemporaryDirectory() as tmp:
            clips = make_clips(args.clip_dir or Path(tmp))[: args.clips]
            if clips:
                batch_size_table(Detector.load(args.model, overlap=False, device=args.device), clips,
                                 [int(n) for n in args.batch_sizes.split(",")])
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clips = make_clips(args.clip_dir or tmp / "clips")[: args.clips]
        if not clips:
            print("skipped: shared sample data not found")
            return 0
        folder = tmp / "folder"
        folder.mkdir()
        for i in range(args.folder):  # a folder of repeated clips, distinct files
            shutil.copy(clips[i % len(clips)], folder / f"{i:02d}_{clips[i % len(clips)].name}")
        batch = sorted(folder.iterdir())
        ffmpeg = {c: timer(c) for c in clips}
        ffmpeg |= {b: ffmpeg[clips[i % len(clips)]] for i, b in enumerate(batch)}
        stages, overlap_s, fast_s, load_s = ({}, 0.0, 0.0, 0.0) if args.cli_only else in_process(args, clips)
        local = {"device": args.device, "workers": args.workers}
        cli = measure_cli(batch, tmp, args.model, **local) | {"clips": batch}
        fast_clips = batch if args.workers > 1 else clips
        cli_fast = measure_cli(fast_clips, tmp, args.model, fast=True, **local) | {"clips": fast_clips}
        ray = {n: measure_cli(clips, tmp, args.model, engine="ray", workers=n, device=args.device) | {"clips": clips}
               for n in ((1, 2) if args.ray else ())}
        again = {c: timer(c) for c in clips}  # load may drift during the run: time ffmpeg at both ends
        print(f"{reference} reference decode, mean per clip: {statistics.mean(ffmpeg[c] for c in clips):.2f} s at the "
              f"start, {statistics.mean(again.values()):.2f} s at the end (the mean of both is the reference)")
        ffmpeg = {b: (ffmpeg[b] + again[clips[i % len(clips)]]) / 2 for i, b in enumerate(batch)} | {
            c: (ffmpeg[c] + again[c]) / 2 for c in clips}
    report(clips, ffmpeg, stages, overlap_s, fast_s, load_s, cli, cli_fast, ray, reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
