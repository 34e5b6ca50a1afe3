"""Batch scoring: input listing, per-input isolation (timeout, crash), and `avdetect score` end to end.

The engines are tested with `BrightnessScorer`, a real but simple scorer: it decodes each input with
`read_clip` and reads P(fake) off the mean brightness, so rows are deterministic and differ per input.
File names steer it: "hang" sleeps for an hour, "segfault" kills its own process, "boom" raises.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from media import make_audio, make_video
from PIL import Image

from avdetect.errors import WorkerLoadError
from avdetect.perception.video import DecodeConfig, read_clip
from avdetect.records import SyncFeatures
from avdetect.scoring.batch import MEDIA_EXTENSIONS, LocalEngine, ScorerSpec, list_inputs, precheck, score_one
from avdetect.scoring.scores import TrackScores, VideoScore, WindowScores
from avdetect.workers import torch_threads

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


class BrightnessScorer:
    """P(fake) = mean brightness of 4 decoded frames (or audio loudness without video), with full details."""

    def __init__(self, sleep_s: float = 0.0) -> None:
        self.sleep_s = sleep_s

    def score(self, path: Path) -> VideoScore:
        if "hang" in path.name:
            time.sleep(3600)
        if "segfault" in path.name:
            os.kill(os.getpid(), signal.SIGKILL)
        if "boom" in path.name:
            raise RuntimeError("boom: a bug in a scorer")
        time.sleep(self.sleep_s)
        clip = read_clip(path, DecodeConfig(n_frames=4, dense_max_s=0))
        frame_p = clip.frames.reshape(len(clip.frames), -1).mean(axis=1) / 255 if len(clip.frames) else np.zeros(0)
        windows = _audio_windows(clip.audio, clip.sample_rate)
        p = float(frame_p.mean()) if len(frame_p) else float(windows.probs.mean()) if len(windows.probs) else 0.5
        tracks = () if not len(frame_p) else (TrackScores(0, clip.times_s, frame_p.astype(np.float32),
                                                          float(min(clip.frames.shape[1:3])), _thumb(clip.frames[0])),)
        lags = np.linspace(-1, 1, 41)
        sync = SyncFeatures(0, lags, np.cos(3 * (lags - 0.1)), 0.1, 1.0, 0.96, 2.5, 0.05, 0.8, 20)
        return VideoScore(path=str(path), status="ok", p_fake=p, p_visual=p, p_audio=float(windows.probs.mean())
                          if len(windows.probs) else float("nan"), fake_segments=np.array([[0.0, 0.1]]),
                          n_tracks=len(tracks), n_frames=len(frame_p), duration_s=clip.info.duration_s,
                          tracks=tracks, windows=windows, sync=sync if tracks else None)


def _audio_windows(audio: np.ndarray, rate: int, window_s: float = 0.5) -> WindowScores:
    n = int(len(audio) // (rate * window_s)) if rate else 0
    starts = np.arange(n) * window_s
    rms = [np.sqrt(np.mean(audio[int(s * rate):int((s + window_s) * rate)] ** 2)) for s in starts]
    return WindowScores(starts, starts + window_s, np.clip(np.array(rms, np.float32) * 4, 0, 1))


def _thumb(frame: np.ndarray) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize((48, 48)))


def make_brightness_scorer(model_dir: str | None, device: str) -> BrightnessScorer:
    return BrightnessScorer()


def make_slow_scorer(model_dir: str | None, device: str) -> BrightnessScorer:
    return BrightnessScorer(sleep_s=0.4)


def make_broken_scorer(model_dir: str | None, device: str) -> BrightnessScorer:
    raise FileNotFoundError(f"no model in {model_dir}")


class ThreadsScorer:
    """Reports torch's intra-op threads in its worker as n_frames."""

    def score(self, path: Path) -> VideoScore:
        import torch

        return VideoScore(path=str(path), status="ok", p_fake=0.5, n_frames=torch.get_num_threads())


def make_threads_scorer(model_dir: str | None, device: str) -> ThreadsScorer:
    import torch  # noqa: F401  (a real scorer has torch loaded once it is built)

    return ThreadsScorer()


SPEC = ScorerSpec("test_batch:make_brightness_scorer")


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Eight tiny videos of different lengths (so different brightness), in two folders."""
    root = tmp_path_factory.mktemp("videos")
    paths = []
    for k in range(8):
        (root / f"d{k % 2}").mkdir(exist_ok=True)
        paths.append(make_video(root / f"d{k % 2}" / f"v{k}.mp4", width=96, height=64, fps=10,
                                duration_s=0.3 + 0.1 * k, seed=k))
    return paths


def run_engine(paths: list[str], spec: ScorerSpec = SPEC, **kwargs) -> dict[str, VideoScore]:
    results: dict[str, VideoScore] = {}
    with LocalEngine(spec, **kwargs) as engine:
        engine.run(paths, lambda s: results.__setitem__(s.path, s))
    return results


def test_list_inputs_recurses_folders_and_keeps_every_named_file(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / ".hidden").mkdir()
    for name in ("a/x.MP4", "a/b/y.wav", "a/b/meta.json", "a/.z.mp4", "a/.hidden/w.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "empty").mkdir()
    named = [str(tmp_path / "a"), str(tmp_path / "notes.txt"), str(tmp_path / "missing.mp4"), str(tmp_path / "empty")]
    got = list_inputs(named + [str(tmp_path / "a" / "x.MP4")])  # the repeat is dropped
    assert got == [str(tmp_path / "a" / "b" / "y.wav"), str(tmp_path / "a" / "x.MP4"), str(tmp_path / "notes.txt"),
                   str(tmp_path / "missing.mp4"), str(tmp_path / "empty")]


def test_list_file_with_comments_at_sign_and_option(tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text(f"# inputs\n{tmp_path / 'one.mp4'}\n\n  {tmp_path / 'two.mp4'}  \n", encoding="utf-8")
    expected = [str(tmp_path / "one.mp4"), str(tmp_path / "two.mp4")]
    assert list_inputs([f"@{listing}"]) == expected
    assert list_inputs([], list_files=[str(listing)]) == expected
    with pytest.raises(Exception, match="list file"):
        list_inputs(["@" + str(tmp_path / "nope.txt")])


def test_precheck_rows_for_impossible_inputs(tmp_path: Path) -> None:
    (tmp_path / "ok.mp4").write_bytes(b"x")
    assert precheck(str(tmp_path / "ok.mp4")) is None
    for bad in (tmp_path / "missing.mp4", tmp_path):
        row = precheck(str(bad))
        assert row.status == "input_error" and str(bad) in row.error and np.isnan(row.p_fake)
    assert ".mp4" in MEDIA_EXTENSIONS and ".wav" in MEDIA_EXTENSIONS


def test_torch_threads_split_the_cpus() -> None:
    cpus = len(os.sched_getaffinity(0))
    assert torch_threads(1) == cpus and torch_threads(10 * cpus) == 1


def test_score_one_turns_exceptions_into_rows(videos: list[Path], tmp_path: Path) -> None:
    scorer = BrightnessScorer()
    good, trace = score_one(scorer, str(videos[0]))
    assert good.ok and 0 < good.p_fake < 1 and good.seconds > 0 and trace == ""
    bad = tmp_path / "text.mp4"
    bad.write_text("not a video")
    row, _ = score_one(scorer, str(bad))
    assert row.status == "decode_error" and np.isnan(row.p_fake)
    row, trace = score_one(scorer, str(tmp_path / "boom.mp4"))
    assert row.status == "internal_error" and row.error.startswith("RuntimeError: boom") and "Traceback" in trace


def test_engine_timeout_and_crash_cost_one_input_each(videos: list[Path], tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    hang, crash = tmp_path / "hang.mp4", tmp_path / "segfault.mp4"
    for path in (hang, crash):
        path.write_bytes(videos[0].read_bytes())
    paths = [str(videos[0]), str(hang), str(videos[1]), str(crash), str(videos[2]), str(tmp_path / "boom.mp4")]
    start = time.monotonic()
    with caplog.at_level(logging.INFO, logger="avdetect.workers"):
        got = run_engine(paths, workers=2, timeout_s=3.0)
    assert set(got) == set(paths) and time.monotonic() - start < 30
    assert got[paths[-1]].status == "internal_error" and "RuntimeError: boom" in caplog.text  # shown with -v
    assert got[str(hang)].status == "timeout" and "3 s" in got[str(hang)].error
    assert got[str(crash)].status == "worker_crashed" and "SIGKILL" in got[str(crash)].error
    assert all(got[str(v)].ok for v in videos[:3])


def test_every_awkward_input_gets_one_typed_row(bad_inputs: dict) -> None:
    folder = str(next(iter(bad_inputs.values())).path.parent)
    got = run_engine(list_inputs([folder]), workers=2, timeout_s=60)
    assert len(got) == len(bad_inputs)
    for name, bad in bad_inputs.items():
        row = got[str(bad.path)]
        assert row.ok == (bad.expect == "ok"), (name, row.status, row.error)
        assert row.ok or row.status in ("decode_error", "empty_media"), (name, row.status)


def test_engine_matches_in_process_scores(videos: list[Path]) -> None:
    got = run_engine([str(v) for v in videos[:4]], workers=2)
    for video in videos[:4]:
        assert got[str(video)].p_fake == BrightnessScorer().score(video).p_fake


@pytest.mark.slow
def test_workers_share_the_cpus_between_their_torch_threads() -> None:
    got = run_engine(["a", "b", "c"], ScorerSpec("test_batch:make_threads_scorer"), workers=2)
    assert {score.n_frames for score in got.values()} == {torch_threads(2)}


def test_engine_scorer_that_cannot_load_stops_the_run(videos: list[Path]) -> None:
    with pytest.raises(WorkerLoadError, match="FileNotFoundError: no model in /nowhere"):
        run_engine([str(videos[0])], ScorerSpec("test_batch:make_broken_scorer", "/nowhere"))


def avdetect(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(ROOT)])}
    return subprocess.Popen([sys.executable, "-m", "avdetect.cli", "score", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_score_command_rows_report_and_exit_status(videos: list[Path], tmp_path: Path) -> None:
    out, missing = tmp_path / "scores.csv", tmp_path / "missing.mp4"
    proc = avdetect(str(videos[0].parent), str(missing), "-o", str(out), "--report", str(tmp_path / "report"),
                    "--scorer", "test_batch:make_brightness_scorer")
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 1, stderr
    assert f"input_error: {missing}: no such file" in stderr and "Traceback" not in stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 1 + 5 and lines[0].startswith("path,p_fake,")
    assert (tmp_path / "report" / "index.html").is_file() and "5 inputs, 5 scored now" in stdout


def test_score_command_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from avdetect.cli import main

    (tmp_path / "user.csv").write_text("name,age\nann,3\n")
    for args in ([str(tmp_path), "-o", str(tmp_path / "out.txt")], ["-o", str(tmp_path / "a.csv")],
                 [str(tmp_path), "-o", str(tmp_path / "user.csv")], [str(tmp_path), "-o", "x.csv", "--workers", "0"]):
        assert main(["score", *args]) == 2
        assert len((err := capsys.readouterr().err).splitlines()) == 1 and err.startswith("avdetect score: ")
    assert (tmp_path / "user.csv").read_text() == "name,age\nann,3\n"  # a user's file is never touched


def test_kill_9_then_rerun_scores_every_input_exactly_once(videos: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "scores.jsonl"
    args = [str(videos[0].parent.parent), "-o", str(out), "--scorer", "test_batch:make_slow_scorer"]
    proc = avdetect(*args)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    first = out.read_text().count("\n")
    assert 2 <= first < len(videos), "the run finished before it could be killed"
    proc = avdetect(*args)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["path"] for r in rows) == sorted(str(v) for v in videos)
    assert f"{first} input(s) already in" in stderr


def test_audio_only_and_video_inputs_mix(tmp_path: Path) -> None:
    wav = make_audio(tmp_path / "speech.WAV", speech=True, duration_s=1.0)
    got = run_engine(list_inputs([str(tmp_path)]))
    assert list(got) == [str(wav)] and got[str(wav)].ok and got[str(wav)].n_tracks == 0


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real model bundle with only a (tiny, fitted) stacker: the Detector perceives and fuses for real."""
    from avdetect.bundle import assemble_bundle
    from avdetect.perception.perceiver import PerceptionConfig
    from avdetect.spec import DEFAULT_EXTRACTORS, ScoringSpec
    from stacking.aggregate import AggregateConfig
    from stacking.bundle import save_bundle
    from stacking.stacker import LGBMStacker

    root, rng = tmp_path_factory.mktemp("bundle"), np.random.default_rng(0)
    names = ("has_face", "aud_mean", "has_audio", "sync_peak", "has_sync")
    X = rng.normal(size=(120, len(names)))
    y = np.where(X[:, 1] + rng.normal(size=120) > 0, "FAKE", "REAL")
    save_bundle(root / "stacker", LGBMStacker(cv=3, n_estimators=20).fit(X, y, feature_names=names),
                aggregate=AggregateConfig())
    spec = ScoringSpec(PerceptionConfig(), features=names, extractors=DEFAULT_EXTRACTORS)
    assemble_bundle(root / "model", stacker=root / "stacker", spec=spec)
    return root / "model"


@pytest.mark.slow
def test_real_detector_through_the_engine(tiny_bundle: Path, videos: list[Path], tmp_path: Path) -> None:
    from avdetect.scoring.pipeline import Detector

    bad = tmp_path / "text.mp4"
    bad.write_text("not a video")
    got = run_engine([str(videos[0]), str(bad)], ScorerSpec(model_dir=str(tiny_bundle)))
    assert got[str(videos[0])].ok and 0 <= got[str(videos[0])].p_fake <= 1
    assert got[str(videos[0])].p_fake == pytest.approx(Detector.load(tiny_bundle).score(videos[0]).p_fake, abs=1e-6)
    assert got[str(bad)].status == "decode_error"
    with pytest.raises(WorkerLoadError, match="ModelFileError"):
        run_engine([str(videos[0])], ScorerSpec(model_dir=str(tmp_path / "no_model")))
