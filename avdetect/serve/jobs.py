"""One job per upload: its own temporary folder, its state, its result and report; deleted after a while.

A job goes queued -> scoring -> done (scored) or failed (a typed error, a timeout, a worker crash). The
store is shared by the web app's event loop and the scoring thread, so every change happens under its
lock and a job is a frozen record replaced whole.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from avdetect.errors import NoSuchJobError, QueueFullError
from avdetect.scoring.report import Report, page_name, verdict
from avdetect.scoring.scores import VideoScore

QUEUED, SCORING, DONE, FAILED = "queued", "scoring", "done", "failed"
PROBABILITIES = ("p_fake", "p_visual", "p_audio", "p_sync")


@dataclass(frozen=True)
class Job:
    """One uploaded file and what became of it."""

    id: str  # 32 hex digits, random
    name: str  # the uploaded file's name, shown to people only: never part of a path
    folder: Path  # the job's own folder under the server's temporary folder
    input_path: Path  # the stored upload, folder/upload<ext>
    size_bytes: int
    created: float  # time.time() of the upload
    state: str = QUEUED
    started: float | None = None  # handed to a worker
    finished: float | None = None
    row: dict | None = None  # the output row (`VideoScore.row()`), its path the upload's name
    report_page: str | None = None  # the report page, relative to folder/report

    def to_json(self, now: float, keep_s: float) -> dict:
        """What the API and the page show: state, timings, verdicts, and where the report is."""
        row = self.row or {}
        facts = {name: row.get(name) for name in PROBABILITIES + ("fake_segments", "duration_s", "n_tracks", "seconds")}
        return {
            "id": self.id, "name": self.name, "state": self.state, "size_bytes": self.size_bytes,
            "waited_s": round((self.started or now) - self.created, 1),
            "scoring_s": round((self.finished or now) - self.started, 1) if self.started else None,
            "status": row.get("status"), "error": row.get("error") or None, **facts,
            "verdict": (row.get("verdict") or None) if self.row else None,  # the model's real/inconclusive/fake
            "why": (row.get("why") or None) if self.row else None,
            "verdicts": {name[2:]: verdict(row.get(name)) for name in PROBABILITIES[1:]} if self.row else None,
            "report_url": f"/jobs/{self.id}/report/{self.report_page}" if self.report_page else None,
            "url": f"/api/jobs/{self.id}",
            "expires_in_s": round(self.finished + keep_s - now) if self.finished else None,
        }


class JobStore:
    """Every job of one server, by id, in `root` (the server's temporary folder).

    Args:
        root: folder that holds one sub-folder per job.
        keep_s: a finished job is deleted, folder and all, this long after it finished.
        max_jobs: jobs queued or scoring at once; `reserve` refuses more.
    """

    def __init__(self, root: Path, *, keep_s: float, max_jobs: int) -> None:
        self.root, self.keep_s, self.max_jobs = Path(root), keep_s, max_jobs
        self._jobs: dict[str, Job] = {}
        self._by_path: dict[str, str] = {}
        self._lock = threading.Lock()

    def reserve(self) -> tuple[str, Path]:
        """A new job id and its fresh, empty folder. Raises QueueFullError when too many jobs wait."""
        with self._lock:
            waiting = sum(job.state in (QUEUED, SCORING) for job in self._jobs.values())
        if waiting >= self.max_jobs:
            raise QueueFullError(f"{waiting} files are waiting to be scored; try again when some have finished")
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        return job_id, folder

    def add(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.id] = job
            self._by_path[str(job.input_path)] = job.id
        return job

    def get(self, job_id: str) -> Job:
        """The job `job_id`. Raises NoSuchJobError."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NoSuchJobError(f"no job {job_id[:40]!r}: it never existed or has been deleted")
        return job

    def all(self) -> list[Job]:
        """Every job, oldest first."""
        with self._lock:
            return sorted(self._jobs.values(), key=lambda job: job.created)

    def started(self, paths: list[str]) -> None:
        """Marks the jobs of `paths` as being scored now."""
        now = time.time()
        with self._lock:
            for path in paths:
                if (job_id := self._by_path.get(path)) in self._jobs:
                    self._jobs[job_id] = replace(self._jobs[job_id], state=SCORING, started=now)

    def finish(self, score: VideoScore) -> None:
        """Writes the job's report from `score` and records its result (scored, or failed and why)."""
        with self._lock:
            job = self._jobs.get(self._by_path.get(score.path, ""))
        if job is None:  # deleted while scoring: nothing left to write into
            return
        shown = replace(score, path=_shown_path(job), error=score.error.replace(score.path, job.name))
        report = Report(job.folder / "report")
        report.add(shown)
        report.close()
        done = replace(job, state=DONE if score.ok else FAILED, started=job.started or time.time(),
                       finished=time.time(), row=shown.row(), report_page=page_name(shown.path))
        with self._lock:
            if job.id in self._jobs:
                self._jobs[job.id] = done

    def sweep(self, now: float | None = None) -> int:
        """Deletes the jobs that finished over `keep_s` ago, folders and all. Returns how many."""
        now = time.time() if now is None else now
        with self._lock:
            old = [job for job in self._jobs.values() if job.finished and now - job.finished > self.keep_s]
            for job in old:
                del self._jobs[job.id]
                self._by_path.pop(str(job.input_path), None)
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
        return len(old)

    def discard(self, folder: Path) -> None:
        """Deletes a reserved folder whose upload was refused."""
        shutil.rmtree(folder, ignore_errors=True)


def _shown_path(job: Job) -> str:
    """The path the report and the row show: the upload's name. The report looks a path up on disk (for
    the file size) relative to the server's folder, so a name that exists there shows the stored path."""
    return str(job.input_path) if os.path.lexists(job.name) else job.name
