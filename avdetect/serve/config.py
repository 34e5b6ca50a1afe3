"""Settings of one `avdetect serve` server, resolved from the command line."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from avdetect.scoring.batch import DEFAULT_TIMEOUT_S, ScorerSpec

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServeConfig:
    """How the server listens, scores and cleans up. Defaults suit one person on one machine."""

    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port (tests)
    model_dir: str | None = None  # None: the shipped model
    device: str = "cpu"
    workers: int = 1  # scoring processes, each loading the model once when the server starts
    timeout_s: float = DEFAULT_TIMEOUT_S  # per-input time limit
    max_upload_bytes: int = 500 * 2**20
    keep_s: float = 3600.0  # a finished job's upload, report and result are deleted this long after
    max_jobs: int = 100  # jobs waiting or running at once; more get `queue_full`
    temp_dir: str | None = None  # where the server's temporary folder is made; None: the system's
    scorer: str = ScorerSpec.factory  # "module:function" building the scorer in each worker (tests swap it)

    def scorer_spec(self) -> ScorerSpec:
        """What each worker builds."""
        return ScorerSpec(self.scorer, self.model_dir, self.device)

    def check(self) -> None:
        """Raises ValueError naming the first setting that cannot work."""
        if self.workers < 1 or self.timeout_s < 0 or self.max_upload_bytes < 1 or self.keep_s <= 0:
            raise ValueError("--workers, --max-upload-mb and --keep-minutes must be > 0 and --timeout >= 0")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"--port {self.port}: not a TCP port (0-65535)")


def is_local(host: str) -> bool:
    """Whether `host` is reachable only from this machine (a loopback name or address)."""
    if host in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
