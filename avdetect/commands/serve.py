"""`avdetect serve`: a local web page where a person drops files and reads each verdict and why.

Exit status: 0 after Ctrl-C (SIGTERM: the same clean shutdown, then the signal's status), 2 on a usage
error or a port that cannot be had.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from avdetect.serve.config import ServeConfig, is_local

DEFAULT_TIMEOUT_S = ServeConfig.timeout_s

log = logging.getLogger(__name__)

DESCRIPTION = """Serve a web page (and a JSON API: POST /api/score, GET /api/jobs/ID) that scores dropped video and
audio files in worker processes started once (each loads the model once), with a per-file time limit; a crash
fails one file, not the server. Uploads are size-limited, stored under a temporary folder and deleted a while
after they are scored. There is no login: it is for one person on one machine, so it listens on 127.0.0.1
unless --host says otherwise."""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Adds the `serve` parser."""
    p = subparsers.add_parser("serve", help="a local web page to score dropped videos", description=DESCRIPTION)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--model", metavar="DIR", help="model folder (default: the shipped model)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="files scored at once, one process each (default 1)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"per-file time limit in seconds, 0 for none (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--device", default="cpu", help="torch device of each worker, e.g. cuda:0 (default cpu)")
    p.add_argument("--max-upload-mb", type=float, default=500, metavar="MB", help="largest upload (default 500)")
    p.add_argument("--keep-minutes", type=float, default=60, metavar="M",
                   help="delete each upload, result and report this long after it is scored (default 60)")
    p.add_argument("--scorer", default=ServeConfig.scorer, help=argparse.SUPPRESS)  # module:function, for tests
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serves until interrupted."""
    from avdetect.serve.server import bind, run_server, url  # starlette and uvicorn only when serving

    try:
        config = _config(args)
    except ValueError as err:
        return _fail(str(err))
    try:
        sock = bind(config)
    except OSError as err:
        return _fail(f"cannot listen on {config.host} port {config.port} ({err.strerror or err}): pass another --port")
    if not is_local(config.host):
        log.warning("avdetect serve: listening on %s: anyone who can reach this machine on port %d can upload files "
                    "and read every result; there is no login", config.host, config.port)
    print(f"avdetect serve: {url(sock)}/ (Ctrl-C to stop)", file=sys.stderr)
    try:
        run_server(config, sock, log_level="info" if args.verbose else "warning")
    except KeyboardInterrupt:  # uvicorn shut down cleanly, then passed Ctrl-C on
        pass
    return 0


def _config(args: argparse.Namespace) -> ServeConfig:
    if args.model is not None and not os.path.isdir(args.model):
        raise ValueError(f"--model {args.model}: not a folder")
    config = ServeConfig(host=args.host, port=args.port, model_dir=args.model, device=args.device,
                         workers=args.workers, timeout_s=args.timeout,
                         max_upload_bytes=int(args.max_upload_mb * 2**20), keep_s=args.keep_minutes * 60,
                         scorer=args.scorer)
    config.check()
    return config


def _fail(message: str) -> int:
    print(f"avdetect serve: error: {message}", file=sys.stderr)
    return 2
