"""One launcher per data directory, and no servers left over from one that was killed.

The embedded servers run in sessions of their own (a terminal's Ctrl-C must reach only the launcher,
which stops them in order), so a launcher that is SIGKILLed leaves them running on its data directory.
The next `levee up` on that directory finds them by the pids recorded here and stops them first:
two nats-servers on one JetStream store, or a stale postmaster, must never happen.
"""

from __future__ import annotations

import fcntl
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

GRACE = 10.0


@contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Held for the launcher's life; the kernel releases it if the launcher dies."""
    with open(data_dir / "levee.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"another `levee up` is running on {data_dir}") from None
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def record(data_dir: Path, name: str, pid: int | None) -> None:
    if pid is not None:
        (data_dir / f"{name}.pid").write_text(f"{pid}\n")


def forget(data_dir: Path, name: str) -> None:
    (data_dir / f"{name}.pid").unlink(missing_ok=True)


def stop_leftovers(data_dir: Path, names: tuple[str, ...] = ("nats", "postgres")) -> None:
    for name in names:
        pid_file = data_dir / f"{name}.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            continue
        if _runs_on(pid, data_dir):
            log.warning("leftover_server_stopping", server=name, pid=pid)
            # PostgreSQL's "fast shutdown" is SIGINT; nats-server stops cleanly on SIGTERM.
            _stop(pid, signal.SIGINT if name == "postgres" else signal.SIGTERM)
        pid_file.unlink(missing_ok=True)


def _runs_on(pid: int, data_dir: Path) -> bool:
    """Alive and started on this data directory (a recycled pid belongs to someone else)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return str(data_dir) in cmdline


def _stop(pid: int, sig: signal.Signals) -> None:
    try:
        os.kill(pid, sig)
        deadline = time.monotonic() + GRACE
        while _alive(pid):
            if time.monotonic() > deadline:
                log.warning("leftover_server_killed", pid=pid, grace_s=GRACE)
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.1)
    except ProcessLookupError:
        return


def _alive(pid: int) -> bool:
    """Running; a zombie (which a container's init may never reap) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}
