"""uvicorn around the app: in the foreground for `avdetect serve`, or in a thread for tests and notebooks.

The listening socket is bound before anything starts, so a port in use is one clear error, not a server
that loaded its workers and then could not listen.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from avdetect.serve.app import create_app
from avdetect.serve.config import ServeConfig

START_TIMEOUT_S = 30.0


def bind(config: ServeConfig) -> socket.socket:
    """A listening TCP socket on the configured host and port (0: any free port). Raises OSError."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    return socket.create_server((config.host, config.port), family=family)


def url(sock: socket.socket) -> str:
    """http://HOST:PORT/ of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def run_server(config: ServeConfig, sock: socket.socket, *, log_level: str = "warning") -> None:
    """Serves on `sock` (from `bind`) until Ctrl-C or SIGTERM; the workers and the temporary folder go too."""
    with sock:
        _server(config, log_level).run(sockets=[sock])


def _server(config: ServeConfig, log_level: str) -> uvicorn.Server:
    # One ASGI process: the scoring workers are the engine's processes, started by the app's lifespan.
    return uvicorn.Server(uvicorn.Config(create_app(config), log_level=log_level, access_log=log_level == "info",
                                         lifespan="on", timeout_graceful_shutdown=5))


class BackgroundServer:
    """The server in a daemon thread, by default on a free port of 127.0.0.1; a context manager.

        with BackgroundServer(ServeConfig(port=0)) as server:
            httpx.get(server.url + "/api/jobs")
    """

    def __init__(self, config: ServeConfig, *, log_level: str = "warning") -> None:
        self.config = config
        self._socket = bind(config)
        self.url = url(self._socket)
        self._server = _server(config, log_level)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]},
                                        name="avdetect-serve", daemon=True)

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(START_TIMEOUT_S)
        self._socket.close()
