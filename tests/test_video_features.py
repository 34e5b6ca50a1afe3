"""Feature blocks travel from training to scoring: `video-features` files -> fit-stacker -> spec -> Detector."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from media import make_audio
from test_fit_stacker import make_runs

from avdetect.bundle import assemble_bundle, load_bundle
from avdetect.errors import ModelFileError
from avdetect.features import registry
from avdetect.features.registry import VideoExtractor
from avdetect.perception.perceiver import PerceptionConfig
from avdetect.records import Perception
from avdetect.scoring.pipeline import Detector
from avdetect.spec import DEFAULT_EXTRACTORS, ScoringSpec
from avdetect.training.stacker import fit_stacker, write_outputs
from avdetect.training.stacker_data import load_training_data
from stacking.errors import TableError

CALLS: list[str] = []


def _loudness(perception: Perception) -> np.ndarray:
    CALLS.append(perception.clip.info.path)
    audio = perception.clip.audio
    return np.array([float(np.sqrt(np.mean(audio ** 2))) if len(audio) else np.nan, float(len(audio) > 0)])


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> VideoExtractor:
    extractor = VideoExtractor(("toy_rms", "toy_has_audio"), _loudness)
    monkeypatch.setitem(registry.VIDEO_EXTRACTORS, "toy", extractor)
    return extractor


def _write_block(runs: dict, name: str, columns: tuple[str, ...]) -> None:
    """RUNS/features/NAME.csv: a column that follows each video's label, as `video-features` writes it."""
    with open(runs["manifest"], newline="") as f:
        rows = list(csv.DictReader(f))
    path = runs["runs"] / "features" / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["path", *columns])
        for row in rows:
            signal = rng.normal(1.0 if row["label"] == "FAKE" else 0.0, 0.3)
            out.writerow([str(runs["root"] / row["path"]), f"{signal:.4f}", "1"])


def test_a_block_reaches_the_stacker_the_spec_and_the_detector(tmp_path: Path, toy: VideoExtractor) -> None:
    runs = make_runs(tmp_path)
    _write_block(runs, "toy", toy.names)
    data = load_training_data(runs["runs"], runs["folds"], runs["manifest"])
    assert data.extractors == ("toy",) and {"toy_rms", "toy_has_audio"} <= set(data.table.names)
    stacker = fit_stacker(data)
    write_outputs(tmp_path / "model" / "stacker", stacker, data)
    spec = ScoringSpec(PerceptionConfig(), features=tuple(data.table.names),
                       extractors=DEFAULT_EXTRACTORS + data.extractors)
    assemble_bundle(tmp_path / "model", stacker=tmp_path / "model" / "stacker", spec=spec)
    assert load_bundle(tmp_path / "model").spec.extractors[-1] == "toy"

    CALLS.clear()
    clip = make_audio(tmp_path / "voice.wav", speech=True, duration_s=1.0)
    score = Detector.load(tmp_path / "model").score(clip)
    assert score.ok and 0 <= score.p_fake <= 1 and CALLS == [str(clip)]


def test_a_bundle_whose_block_this_code_lacks_is_refused(tmp_path: Path, toy: VideoExtractor,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    runs = make_runs(tmp_path)
    _write_block(runs, "toy", toy.names)
    data = load_training_data(runs["runs"], runs["folds"], runs["manifest"])
    write_outputs(tmp_path / "model" / "stacker", fit_stacker(data), data)
    spec = ScoringSpec(PerceptionConfig(), features=tuple(data.table.names), extractors=DEFAULT_EXTRACTORS + ("toy",))
    assemble_bundle(tmp_path / "model", stacker=tmp_path / "model" / "stacker", spec=spec)
    monkeypatch.delitem(registry.VIDEO_EXTRACTORS, "toy")
    with pytest.raises(ModelFileError, match="spec.extractors: toy"):
        Detector.load(tmp_path / "model")


def test_a_block_file_of_another_shape_or_name_is_refused(tmp_path: Path, toy: VideoExtractor) -> None:
    runs = make_runs(tmp_path)
    _write_block(runs, "toy", ("toy_rms", "toy_other"))
    with pytest.raises(TableError, match="write it again"):
        load_training_data(runs["runs"], runs["folds"], runs["manifest"])
    (runs["runs"] / "features" / "toy.csv").rename(runs["runs"] / "features" / "nosuch.csv")
    with pytest.raises(ValueError, match="unknown video feature extractor 'nosuch'"):
        load_training_data(runs["runs"], runs["folds"], runs["manifest"])


def test_a_block_without_rows_for_some_scored_videos_is_refused(tmp_path: Path, toy: VideoExtractor) -> None:
    """Missing rows would become NaN, and when they are all of one class (a run cut short) NaN is the label."""
    runs = make_runs(tmp_path)
    _write_block(runs, "toy", toy.names)
    path = runs["runs"] / "features" / "toy.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(TableError, match=r"toy.csv has no row for 2 of the \d+ scored videos"):
        load_training_data(runs["runs"], runs["folds"], runs["manifest"])


def test_a_run_cut_short_leaves_no_block_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from avdetect.corpus.manifest import ManifestRow
    from avdetect.training import video_features

    rows = [ManifestRow(path=tmp_path / f"{name}.mp4", label="REAL", group=name) for name in "ab"]
    monkeypatch.setattr(video_features, "cached_paths", lambda _: {str(r.path): r.path.stem for r in rows})
    calls = []

    def load(_: Path) -> object:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("killed")  # the second video: the run stops as a crash would stop it
        return object()

    monkeypatch.setattr(video_features, "load_perception", load)
    monkeypatch.setitem(registry.VIDEO_EXTRACTORS, "toy", VideoExtractor(("toy_x",), lambda _: np.array([1.0])))
    with pytest.raises(RuntimeError):
        video_features.write_video_features(rows, tmp_path, ["toy"], tmp_path / "out")
    assert not (tmp_path / "out" / "toy.csv").exists()
    monkeypatch.setattr(video_features, "load_perception", lambda _: object())
    video_features.write_video_features(rows, tmp_path, ["toy"], tmp_path / "out")
    assert (tmp_path / "out" / "toy.csv").read_text().count("\n") == 3


def test_out_of_fold_blocks_read_the_model_of_each_video_s_fold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from avdetect.corpus.manifest import ManifestRow
    from avdetect.training import video_features

    read_from = []

    def weighted(perception: object, checkpoint: Path | None = None) -> np.ndarray:
        read_from.append(checkpoint)
        return np.array([1.0])

    monkeypatch.setitem(registry.VIDEO_EXTRACTORS, "weighted", VideoExtractor(("w_x",), weighted, checkpoint="w/w.json"))
    rows = [ManifestRow(path=tmp_path / f"{name}.mp4", label="REAL", group=name) for name in "abc"]
    monkeypatch.setattr(video_features, "cached_paths", lambda _: {str(r.path): r.path.stem for r in rows})
    monkeypatch.setattr(video_features, "load_perception", lambda _: object())
    fold_of = {str(rows[0].path): 0, str(rows[1].path): 2}  # c is in no fold: left out
    done = video_features.write_video_features(rows, tmp_path, ["weighted"], tmp_path / "out",
                                               models=tmp_path / "m", fold_of=fold_of)
    assert done.written == {"weighted": 2} and done.left_out == {video_features.NO_FOLD: [str(rows[2].path)]}
    assert read_from == [tmp_path / "m" / "fold0" / "w/w.json", tmp_path / "m" / "fold2" / "w/w.json"]
    video_features.write_video_features(rows[:1], tmp_path, ["weighted"], tmp_path / "out", models=tmp_path / "m")
    assert read_from[-1] == tmp_path / "m" / "w/w.json"


def test_command_says_which_rows_it_left_out_and_why(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A manifest read from elsewhere than its cache expects: the count alone would not say why rows are missing."""
    from avdetect.cli import main
    from avdetect.corpus.manifest import ManifestRow, write_manifest

    (tmp_path / "cache").mkdir()
    write_manifest([ManifestRow(path=tmp_path / "a.mp4", label="REAL", group="a")], tmp_path / "m.csv")
    assert main(["video-features", str(tmp_path / "m.csv"), "--cache", str(tmp_path / "cache"),
                 "-o", str(tmp_path / "out"), "--extractors", "face_motion"]) == 0
    out = capsys.readouterr().out
    assert "face_motion.csv: 0 of 1 videos" in out
    assert f"left out, not in the cache: 1 (e.g. {tmp_path / 'a.mp4'}); run `avdetect extract`" in out
