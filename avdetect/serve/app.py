"""The web app: the upload page, the JSON API, and each job's report served from the job's own folder.

    GET  /                          the page: drop or choose files, watch each one, read its verdict
    POST /api/score                 multipart/form-data, one file in field "file" -> 202, the job
    GET  /api/jobs, /api/jobs/{id}  every job / one job: state, timings, verdicts, report_url
    GET  /jobs/{id}/report/{page}   the job's HTML report (`avdetect.scoring.report`)

Every typed error answers ``{"error": {"code": ..., "message": ...}}`` with a 4xx/5xx status.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from avdetect.errors import AvdetectError, NotFoundError
from avdetect.serve.config import LOCAL_NAMES, ServeConfig, is_local
from avdetect.serve.engine import ScoringQueue
from avdetect.serve.jobs import Job, JobStore
from avdetect.serve.uploads import save_upload

log = logging.getLogger(__name__)

HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class Service:
    """What the request handlers share: settings, jobs, the scoring queue and the page."""

    config: ServeConfig
    store: JobStore
    scoring: ScoringQueue
    page: str  # the upload page's HTML


def create_app(config: ServeConfig) -> Starlette:
    """The app; its lifespan makes the temporary folder and starts the scoring workers (once)."""
    # A name check on the Host header stops DNS rebinding from reading a local server's results.
    middleware = ([Middleware(TrustedHostMiddleware, allowed_hosts=[n for n in LOCAL_NAMES if ":" not in n])]
                  if is_local(config.host) and ":" not in config.host else [])
    routes = [
        Route("/", index),
        Route("/api/score", score, methods=["POST"]),
        Route("/api/jobs", list_jobs),
        Route("/api/jobs/{job_id}", get_job),
        Route("/jobs/{job_id}/report/{file:path}", report_file),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=partial(_lifespan, config),
                     exception_handlers={AvdetectError: typed_error})


@asynccontextmanager
async def _lifespan(config: ServeConfig, app: Starlette) -> AsyncIterator[None]:
    root = Path(tempfile.mkdtemp(prefix="avdetect-serve-", dir=config.temp_dir))
    store = JobStore(root, keep_s=config.keep_s, max_jobs=config.max_jobs)
    scoring = ScoringQueue(config.scorer_spec(), workers=config.workers, timeout_s=config.timeout_s,
                           on_start=store.started, on_result=store.finish)
    app.state.service = Service(config, store, scoring, _page(config))
    scoring.start()
    sweeper = asyncio.create_task(_sweep(store, interval_s=min(60.0, max(0.5, config.keep_s / 4))))
    log.info("uploads and reports go to %s, each deleted %g s after it is scored", root, config.keep_s)
    try:
        yield
    finally:
        sweeper.cancel()
        await run_in_threadpool(scoring.close)
        shutil.rmtree(root, ignore_errors=True)


async def _sweep(store: JobStore, *, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        store.sweep()


def _page(config: ServeConfig) -> str:
    text = resources.files("avdetect.serve").joinpath("page.html").read_text(encoding="utf-8")
    return text.replace("__MAX_UPLOAD_BYTES__", str(config.max_upload_bytes))


def _service(request: Request) -> Service:
    return request.app.state.service


async def index(request: Request) -> Response:
    return HTMLResponse(_service(request).page, headers=HEADERS)


async def score(request: Request) -> Response:
    """Stores the uploaded file in a new job's folder and queues it: 202 with the job."""
    service = _service(request)
    job_id, folder = service.store.reserve()
    try:
        upload = await save_upload(request, folder, max_bytes=service.config.max_upload_bytes)
    except BaseException:
        service.store.discard(folder)
        raise
    job = service.store.add(Job(job_id, upload.name, folder, upload.path, upload.size_bytes, time.time()))
    service.scoring.submit(str(upload.path))
    log.info("job %s: %s, %d bytes, queued", job.id, job.name, job.size_bytes)
    return _json(service, job, status_code=202)


async def list_jobs(request: Request) -> Response:
    service, now = _service(request), time.time()
    jobs = [job.to_json(now, service.config.keep_s) for job in service.store.all()]
    return JSONResponse({"jobs": jobs}, headers=HEADERS)


async def get_job(request: Request) -> Response:
    service = _service(request)
    return _json(service, service.store.get(request.path_params["job_id"]))


async def report_file(request: Request) -> Response:
    """A file of the job's report folder; no listing, nothing outside it, no hidden files."""
    job = _service(request).store.get(request.path_params["job_id"])
    folder = (job.folder / "report").resolve()
    target = (folder / request.path_params["file"]).resolve()
    if not target.is_relative_to(folder) or not target.is_file() or _hidden(target.relative_to(folder)):
        raise NotFoundError(f"job {job.id} has no report file {request.path_params['file'][:80]!r}")
    return FileResponse(target, headers=HEADERS)


def _hidden(path: Path) -> bool:
    return any(part.startswith(".") for part in path.parts)


async def typed_error(request: Request, err: Exception) -> Response:
    """A typed error as JSON with its status: the page shows `code: message` for the file it concerns."""
    assert isinstance(err, AvdetectError)
    return JSONResponse({"error": {"code": err.code, "message": str(err)}}, status_code=http_status(err),
                        headers=HEADERS)


def _json(service: Service, job: Job, status_code: int = 200) -> JSONResponse:
    return JSONResponse(job.to_json(time.time(), service.config.keep_s), status_code=status_code, headers=HEADERS)


def http_status(err: AvdetectError) -> int:
    """The HTTP status of a typed error: its ``http_status``, else 400 (the input was at fault)."""
    return getattr(err, "http_status", 400)
