"""`avdetect extract`: rows per video, failures recorded not raised, resuming, crashes and kill -9."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from media import load_face_images, make_audio, make_video

from avdetect import cli
from avdetect.corpus.cache import (
    FAILURES_NAME,
    INDEX_NAME,
    cache_key,
    is_complete,
    load_perception,
    open_cache,
    read_index,
)
from avdetect.corpus.extract import Job, VideoResult, cache_config, extract, make_task, run_pool
from avdetect.corpus.manifest import ManifestRow, write_manifest
from avdetect.perception.perceiver import PerceptionConfig
from avdetect.perception.video import DecodeConfig
from avdetect.workers import TaskSpec

CONFIG = PerceptionConfig(decode=DecodeConfig(n_frames=6))
REPO = Path(__file__).resolve().parents[1]


def _faces() -> list[np.ndarray]:
    try:
        return load_face_images(1, size=72)
    except FileNotFoundError:  # no shared data: the videos just have no face
        return []


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Four tiny good inputs (face and speech, tone, video only, audio only) and a corrupt one."""
    d = tmp_path_factory.mktemp("extract_media")
    small = {"width": 160, "height": 120, "fps": 10, "duration_s": 1.2}
    out = {
        "face": make_video(d / "face.mp4", faces=_faces(), speech=True, **small),
        "tone": make_video(d / "tone.mp4", **small),
        "mute": make_video(d / "mute.mp4", audio=False, **small),
        "voice": make_audio(d / "voice.wav", duration_s=2.5),
    }
    (d / "bad.mp4").write_bytes(np.random.default_rng(0).bytes(3000))
    return {**out, "bad": d / "bad.mp4"}


def rows_for(paths) -> list[ManifestRow]:
    return [ManifestRow(path=Path(p), label="REAL", group=Path(p).stem) for p in paths]


def by_path(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["path"]: row for row in rows}


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_cli_extracts_and_records_failures(videos, tmp_path, capsys):
    manifest, cache_dir = tmp_path / "m.csv", tmp_path / "cache"
    write_manifest(rows_for(videos.values()), manifest)
    status = cli.main(["extract", str(manifest), "-o", str(cache_dir), "--workers", "0", "--frames", "6"])
    assert status == 1  # the corrupt file failed
    assert "4 done, 0 skipped as cached, 1 failed" in capsys.readouterr().out
    index = by_path(read_index(cache_dir))
    assert {name: index[str(p)]["status"] for name, p in videos.items()} == {
        "face": "ok", "tone": "ok", "mute": "ok", "voice": "ok", "bad": "error"}
    assert index[str(videos["voice"])]["n_frames"] == "0" and int(index[str(videos["voice"])]["n_windows"]) >= 1
    assert index[str(videos["mute"])]["n_windows"] == "0" and index[str(videos["tone"])]["n_frames"] == "6"
    if _faces():
        assert index[str(videos["face"])]["n_tracks"] == "1"
    [failure] = read_csv(cache_dir / FAILURES_NAME)
    assert failure["path"] == str(videos["bad"]) and failure["error"] == "decode_error" and failure["reason"]
    assert (cache_dir / "config.json").is_file() and len(list(cache_dir.glob("*.npz"))) == 4
    seen = load_perception(cache_dir / f"{cache_key(videos['face'])}.npz")
    assert seen.clip.frames.shape == (0, 0, 0, 3) and len(seen.clip.times_s) == 6
    assert seen.clip.info.path == str(videos["face"]) and seen.audio is not None


def test_cli_refuses_a_cache_made_with_other_options(videos, tmp_path, capsys):
    manifest, cache_dir = tmp_path / "m.csv", tmp_path / "cache"
    write_manifest(rows_for([videos["tone"]]), manifest)
    open_cache(cache_dir, cache_config(CONFIG))
    status = cli.main(["extract", str(manifest), "-o", str(cache_dir), "--workers", "0", "--frames", "4"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "decode.n_frames: 6 -> 4" in err
    assert not list(cache_dir.glob("*.npz"))


def test_resume_redoes_only_missing_partial_and_broken_files(videos, tmp_path):
    good = [videos[name] for name in ("face", "tone", "mute", "voice")]
    rows, cache_dir = rows_for([*good, videos["bad"]]), tmp_path / "cache"
    extract(rows, cache_dir, config=CONFIG, workers=0)
    npz = {p: cache_dir / f"{cache_key(p)}.npz" for p in good}
    npz[good[0]].unlink()  # never written
    npz[good[1]].unlink()  # killed while writing: only the temporary is there
    (cache_dir / f"{cache_key(good[1])}.4242.tmp.npz").write_bytes(b"PK\x03\x04 half")
    npz[good[2]].write_bytes(npz[good[2]].read_bytes()[:1000])  # cut short (not by us: we rename atomically)
    untouched = npz[good[3]].stat().st_mtime_ns
    seen = []
    summary = extract(rows, cache_dir, config=CONFIG, workers=0, progress=seen.append)
    status = {Path(r.path): r.status for r in summary.results}
    assert status == {good[0]: "ok", good[1]: "ok", good[2]: "ok", good[3]: "cached", videos["bad"]: "error"}
    assert seen[0].status == "cached" and len(seen) == 5
    assert npz[good[3]].stat().st_mtime_ns == untouched
    assert all(is_complete(p) for p in npz.values()) and not list(cache_dir.glob("*.tmp.npz"))
    assert len(read_index(cache_dir)) == 5 + 4  # first run, then the three redone and the bad one again
    assert len(read_csv(cache_dir / FAILURES_NAME)) == 2


def test_lost_index_row_is_written_again(videos, tmp_path):
    rows, cache_dir = rows_for([videos["tone"]]), tmp_path / "cache"
    extract(rows, cache_dir, config=CONFIG, workers=0)
    index = cache_dir / INDEX_NAME
    index.write_text(index.read_text().splitlines()[0] + "\n/x/cut-short-by-a-ki")  # header, half a row
    summary = extract(rows, cache_dir, config=CONFIG, workers=0)
    assert summary.count("cached") == 1
    [row] = read_index(cache_dir)
    assert row["path"] == str(videos["tone"]) and row["status"] == "ok" and row["n_frames"] == "6"


def make_fake_task() -> object:
    """A worker task that dies like a segfault on the job "boom" and hangs on the job "hang"."""
    def task(job: Job) -> VideoResult:
        if job.source == "boom":
            os._exit(11)
        if job.source == "hang":
            time.sleep(3600)
        time.sleep(0.05)
        return VideoResult(job.source, job.key, "ok")

    return task


@pytest.mark.slow  # spawned workers, two of them replaced: about 10 s on two cores
def test_a_video_that_kills_or_hangs_its_worker_is_recorded_and_the_rest_go_on():
    jobs = [Job(name, name, "") for name in ("a", "b", "boom", "c", "hang", "d", "e")]
    results: list[VideoResult] = []
    run_pool(jobs, results.append, task=TaskSpec("test_extract:make_fake_task"), workers=2, timeout_s=3)
    status = {r.path: (r.status, r.error) for r in results}
    assert status.pop("boom") == ("error", "worker_crashed")
    assert status.pop("hang") == ("error", "timeout")
    assert status == {name: ("ok", "") for name in "abcde"}


def make_stalling_task(config: PerceptionConfig, device: str) -> object:
    """The real extraction task, except that a video named "stalled" blocks like a stuck FFmpeg read."""
    real = make_task(config, device)

    def task(job: Job) -> VideoResult:
        if "stalled" in job.source:
            time.sleep(3600)
        return real(job)

    return task


@pytest.mark.slow  # two spawned workers, one replaced after the time limit: about 15 s
def test_a_hanging_video_gets_a_timeout_row_and_the_rest_are_extracted(videos, tmp_path):
    stalled = tmp_path / "stalled.mp4"
    stalled.write_bytes(videos["tone"].read_bytes())
    task = TaskSpec("test_extract:make_stalling_task", (CONFIG, "cpu"))
    summary = extract(rows_for([videos["tone"], stalled, videos["mute"]]), tmp_path / "cache", config=CONFIG,
                      workers=2, timeout_s=5, task=task)
    assert {r.path: r.status for r in summary.results} == {
        str(videos["tone"]): "ok", str(stalled): "error", str(videos["mute"]): "ok"}
    failures = by_path(read_csv(tmp_path / "cache" / FAILURES_NAME))
    assert failures[str(stalled)]["error"] == "timeout" and "5 s" in failures[str(stalled)]["reason"]


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _wait_until(condition, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@pytest.mark.slow  # about 18 s: two runs of the real command with two spawned workers
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the workers")
def test_kill_9_then_rerun_completes_without_redoing_finished_videos(tmp_path):
    # Enough work that an idle machine is still busy when the first row lands (6 tiny clips were not).
    paths = [make_video(tmp_path / f"v{i}.mp4", width=320, height=240, fps=10, duration_s=4.0, faces=_faces(),
                        speech=True, seed=i) for i in range(12)]
    manifest, cache_dir = tmp_path / "m.csv", tmp_path / "cache"
    write_manifest(rows_for(paths), manifest)
    command = [sys.executable, "-m", "avdetect.cli", "extract", str(manifest), "-o", str(cache_dir),
               "--workers", "2", "--frames", "6"]
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_until(lambda: len(read_index(cache_dir)) >= 1, 120), "no video finished in 2 minutes"
        workers = _children(first.pid)
        first.send_signal(signal.SIGKILL)
    finally:
        first.kill()
        first.wait()
    assert _wait_until(lambda: not any(Path(f"/proc/{w}").exists() for w in workers), 10), "orphan workers"
    finished = {p for p in paths if is_complete(cache_dir / f"{cache_key(p)}.npz")}
    assert {Path(r["path"]) for r in read_index(cache_dir)} <= finished  # a kill may fall between the two
    assert 1 <= len(finished) < len(paths)
    mtimes = {p: (cache_dir / f"{cache_key(p)}.npz").stat().st_mtime_ns for p in finished}
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert f"{len(paths) - len(finished)} done, {len(finished)} skipped as cached, 0 failed" in second.stdout
    assert {p: (cache_dir / f"{cache_key(p)}.npz").stat().st_mtime_ns for p in finished} == mtimes
    rows = read_index(cache_dir)
    assert sorted(r["path"] for r in rows) == sorted(map(str, paths)) and {r["status"] for r in rows} == {"ok"}
    assert all(is_complete(cache_dir / f"{cache_key(p)}.npz") for p in paths)


def test_cli_refuses_an_unusable_device_in_one_line(videos, tmp_path, capsys):
    manifest = tmp_path / "m.csv"
    write_manifest(rows_for([videos["tone"]]), manifest)
    status = cli.main(["extract", str(manifest), "-o", str(tmp_path / "cache"), "--device", "no-such-device"])
    assert status == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "cache").exists()
