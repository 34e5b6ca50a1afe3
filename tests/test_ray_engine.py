"""The Ray engine: same rows as the local engine, isolation kept, and a clear error without Ray."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from test_batch import SPEC, run_engine, videos  # noqa: F401  (videos is a fixture)

from avdetect.errors import RayMissingError, WorkerLoadError
from avdetect.scoring.batch import ScorerSpec
from avdetect.scoring.ray import import_ray, run_ray
from avdetect.scoring.scores import VideoScore

TESTS = Path(__file__).resolve().parent


def test_missing_ray_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    with pytest.raises(RayMissingError, match=r"pip install 'avdetect\[ray\]'"):
        import_ray()
    with pytest.raises(RayMissingError):
        run_ray(SPEC, ["x.mp4"], print)


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray with logical CPUs to spare (two actors on two CPUs hung without); tests/ importable."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    path = os.pathsep.join([str(TESTS), str(TESTS.parent)])
    ray.init(num_cpus=4, include_dashboard=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_and_local_give_identical_rows(local_ray, videos: list[Path], tmp_path: Path) -> None:  # noqa: F811
    crash = tmp_path / "segfault.mp4"
    crash.write_bytes(videos[0].read_bytes())
    paths = [str(v) for v in videos[:4]] + [str(tmp_path / "missing.mp4"), str(crash)]
    got: dict[str, VideoScore] = {}
    run_ray(SPEC, paths, lambda s: got.__setitem__(s.path, s), workers=2, timeout_s=60)
    local = run_engine(paths, workers=2)
    assert set(got) == set(paths)
    assert {p: got[p].p_fake for p in paths[:4]} == {p: local[p].p_fake for p in paths[:4]}
    assert [got[p].status for p in paths[4:]] == ["input_error", "worker_crashed"]
    assert got[paths[0]].tracks[0].thumbnail.shape == (48, 48, 3)  # the whole VideoScore comes back


@pytest.mark.slow
def test_ray_scorer_that_cannot_load_fails_the_run(local_ray, videos: list[Path]) -> None:  # noqa: F811
    with pytest.raises(WorkerLoadError, match="FileNotFoundError: no model in /nowhere"):
        run_ray(ScorerSpec("test_batch:make_broken_scorer", "/nowhere"), [str(videos[0])], print)
