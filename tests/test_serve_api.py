"""`avdetect serve` through its JSON API with a real HTTP client against a real server on 127.0.0.1.

Most tests use `FakeScorer` (fast to load, steered by the uploaded bytes since names are never paths):
"SEGFAULT" kills its worker, "HANG" sleeps past the time limit, anything else is probed with PyAV (so
text renamed .mp4 gets the real ``decode_error``) and gets P(fake) = duration / 4. One test scores a
generated clip with the shipped model.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from media import load_face_images, make_video

from avdetect.errors import NoSuchJobError
from avdetect.perception.video import probe
from avdetect.scoring.scores import VideoScore
from avdetect.serve.config import ServeConfig
from avdetect.serve.jobs import Job, JobStore
from avdetect.serve.server import BackgroundServer
from avdetect.serve.uploads import display_name, media_suffix

LIMIT = 256 * 1024  # the fake server's upload limit, bytes
FINAL = ("done", "failed")


class FakeScorer:
    def score(self, path: Path) -> VideoScore:
        head = path.read_bytes()[:16]
        if head.startswith(b"SEGFAULT"):
            os.kill(os.getpid(), signal.SIGKILL)
        if head.startswith(b"HANG"):
            time.sleep(3600)
        info = probe(path)  # raises DecodeError on anything FFmpeg cannot open
        p = min(1.0, info.duration_s / 4)
        return VideoScore(path=str(path), status="ok", p_fake=p, p_visual=p, duration_s=info.duration_s,
                          verdict="fake" if p >= 0.5 else "real", why="its length says so")


def make_fake_scorer(model_dir: str | None, device: str) -> FakeScorer:
    return FakeScorer()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    temp = tmp_path_factory.mktemp("serve")
    config = ServeConfig(port=0, scorer="test_serve_api:make_fake_scorer", timeout_s=4, max_upload_bytes=LIMIT,
                         temp_dir=str(temp))
    with BackgroundServer(config) as running:
        yield running


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {name: make_video(folder / f"{name}.mp4", width=96, height=64, fps=10, duration_s=seconds)
            for name, seconds in (("one", 1.0), ("two", 2.0))}


def post(url: str, name: str, data: bytes, **kwargs) -> httpx.Response:
    return httpx.post(f"{url}/api/score", files={"file": (name, data, "video/mp4")}, timeout=30, **kwargs)


def wait(url: str, job_id: str, timeout_s: float = 40.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/api/jobs/{job_id}").json()
        if job["state"] in FINAL:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} not finished in {timeout_s} s: {job}")


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def test_clip_is_scored_and_its_report_served(server, clips) -> None:
    response = post(server.url, "clip one.mp4", clips["one"].read_bytes())
    assert response.status_code == 202 and response.json()["state"] == "queued"
    job = wait(server.url, response.json()["id"])
    assert job["state"] == "done" and job["status"] == "ok" and job["name"] == "clip one.mp4"
    assert job["p_fake"] == pytest.approx(0.25, abs=0.03) and job["verdict"] == "real"
    assert job["verdicts"]["visual"] == "real" and job["verdicts"]["audio"] == "n/a"
    page = httpx.get(server.url + job["report_url"])
    assert page.status_code == 200 and "<title>clip one.mp4</title>" in page.text and "P(fake) = <b>0.2" in page.text
    assert "<svg" in page.text


def test_bad_uploads_get_typed_errors(server) -> None:
    assert (r := post(server.url, "empty.mp4", b"")).status_code == 400 and error_code(r) == "empty_upload"
    assert (r := post(server.url, "big.mp4", os.urandom(LIMIT + 100_000))).status_code == 413
    assert error_code(r) == "upload_too_large"
    r = httpx.post(f"{server.url}/api/score", data={"note": "no file"})
    assert r.status_code == 400 and error_code(r) == "bad_upload"
    two = [("file", ("a.mp4", b"a", "video/mp4")), ("file", ("b.mp4", b"b", "video/mp4"))]
    assert error_code(httpx.post(f"{server.url}/api/score", files=two)) == "bad_upload"
    text = post(server.url, "notes.mp4", b"this is text, not a video\n" * 10)
    assert text.status_code == 202  # only FFmpeg can tell: it fails as a job, in a worker
    job = wait(server.url, text.json()["id"])
    assert job["state"] == "failed" and job["status"] == "decode_error"
    assert job["error"].startswith("notes.mp4:") and "upload" not in job["error"]  # no temporary path shown
    assert "Not scored: decode_error" in httpx.get(server.url + job["report_url"]).text


def test_too_large_upload_is_refused_while_streaming(server) -> None:
    boundary = "avdetect-test"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.mp4\"\r\n"
            "Content-Type: video/mp4\r\n\r\n").encode()

    def body():  # no Content-Length: chunked, so only counting the body as it comes can stop it
        yield head
        for _ in range(LIMIT // 65536 + 4):
            yield b"\0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    r = httpx.post(f"{server.url}/api/score", content=body(),
                   headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status_code == 413 and error_code(r) == "upload_too_large"


def test_two_uploads_at_once(server, clips) -> None:
    responses: dict[str, httpx.Response] = {}

    def send(name: str) -> None:
        responses[name] = post(server.url, f"{name}.mp4", clips[name].read_bytes())

    threads = [threading.Thread(target=send, args=(name,)) for name in clips]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [responses[name].status_code for name in clips] == [202, 202]
    jobs = {name: wait(server.url, responses[name].json()["id"]) for name in clips}
    assert jobs["one"]["id"] != jobs["two"]["id"]
    assert jobs["one"]["p_fake"] == pytest.approx(0.25, abs=0.03)
    assert jobs["two"]["p_fake"] == pytest.approx(0.5, abs=0.03)
    listed = {job["id"] for job in httpx.get(f"{server.url}/api/jobs").json()["jobs"]}
    assert {job["id"] for job in jobs.values()} <= listed


def test_worker_crash_and_timeout_fail_one_job_not_the_server(server, clips) -> None:
    crashed = wait(server.url, post(server.url, "crash.mp4", b"SEGFAULT").json()["id"])
    assert crashed["state"] == "failed" and crashed["status"] == "worker_crashed"
    hung = wait(server.url, post(server.url, "hang.mp4", b"HANG").json()["id"])
    assert hung["status"] == "timeout" and hung["scoring_s"] >= 4
    after = wait(server.url, post(server.url, "after.mp4", clips["two"].read_bytes()).json()["id"])
    assert after["state"] == "done" and after["p_fake"] == pytest.approx(0.5, abs=0.03)


def test_names_are_never_paths_and_nothing_is_listed(server, clips, tmp_path_factory) -> None:
    job = wait(server.url, post(server.url, "../../../evil.mp4", clips["one"].read_bytes()).json()["id"])
    assert job["name"] == "evil.mp4" and job["state"] == "done"
    temp = Path(server.config.temp_dir)
    assert not list(temp.parent.glob("evil*")) and not list(temp.rglob("evil.mp4"))
    assert {p.name for p in temp.rglob("upload*")} <= {"upload.mp4", "upload"}
    base = f"{server.url}/jobs/{job['id']}/report/"
    assert httpx.get(base).status_code == 404
    assert error_code(httpx.get(base + "%2e%2e/upload.mp4")) == "not_found"
    assert error_code(httpx.get(f"{server.url}/api/jobs/0123")) == "no_such_job"
    assert httpx.get(f"{server.url}/api/jobs", headers={"Host": "evil.example"}).status_code == 400
    assert "Drop video or audio files" in httpx.get(server.url).text


def test_display_names_and_suffixes() -> None:
    assert display_name("C:\\Users\\me\\clip.MP4") == "clip.MP4" and display_name("a/b\n\x00c.mp4") == "bc.mp4"
    assert display_name(None) == "upload" and display_name("../..") == ".."
    assert media_suffix("clip.MP4") == ".mp4" and media_suffix("notes.txt") == "" and media_suffix("x") == ""


def test_finished_jobs_are_deleted_after_keep_s(tmp_path: Path) -> None:
    store = JobStore(tmp_path, keep_s=60, max_jobs=1)
    job_id, folder = store.reserve()
    (folder / "upload.mp4").write_bytes(b"x")
    store.add(Job(job_id, "clip.mp4", folder, folder / "upload.mp4", 1, time.time()))
    with pytest.raises(Exception, match="waiting"):
        store.reserve()  # max_jobs=1: the queue is full
    store.finish(VideoScore(path=str(folder / "upload.mp4"), status="ok", p_fake=0.9))
    assert store.get(job_id).state == "done" and (folder / "report" / "index.html").is_file()
    assert store.sweep(time.time() + 30) == 0 and folder.exists()
    assert store.sweep(time.time() + 61) == 1 and not folder.exists()
    with pytest.raises(NoSuchJobError):
        store.get(job_id)


@pytest.mark.slow
def test_shipped_model_scores_an_upload(tmp_path: Path) -> None:
    try:
        faces = load_face_images(1)
    except FileNotFoundError:
        faces = []
    clip = make_video(tmp_path / "talk.mp4", width=240, height=180, fps=10, duration_s=2.0, faces=faces,
                      speech=True)
    with BackgroundServer(ServeConfig(port=0, temp_dir=str(tmp_path))) as running:
        job = wait(running.url, post(running.url, "talk.mp4", clip.read_bytes()).json()["id"], timeout_s=55)
        assert job["state"] == "done" and 0 <= job["p_fake"] <= 1
        assert job["verdict"] in ("fake", "real", "inconclusive")
        page = httpx.get(running.url + job["report_url"]).text
        assert 'aria-label="P(fake) over time"' in page and "Scores over time" in page
