"""The front door: `levee up` as an operator runs it, and /healthz as an operator reads it at 3 a.m."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import nats.errors
import pytest
from aiohttp.test_utils import TestClient, TestServer
from nats.aio.client import Client as NATS

from events.store import JetStreamEventStore, Write
from events.store.connection import connect_nats
from events.store.stream import StreamSpec
from services.api.app import build_app
from services.embedded.ports import free_port
from services.settings import Settings

LEVEE = Path(sys.executable).parent / "levee"
ROOT = Path(__file__).resolve().parents[2]
# The gauge each process without HTTP serves on its own /metrics port under `levee up`.
LAG_GAUGES = {"triage": "levee_consumer_lag_events", "dispatch": "levee_consumer_lag_events",
              "notices": "levee_consumer_lag_events", "projector": "levee_projection_lag_events"}  # fmt: skip
START_BOUND = 90.0
STOP_BOUND = 30.0


def clean_env() -> dict[str, str]:
    """A newcomer's environment: no server URLs and no Levee settings, JSON logs to read."""
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    return {k: v for k, v in env.items() if not k.startswith("LEVEE_")} | {"LEVEE_LOG_FORMAT": "json"}


class Launcher:
    """`levee up` as a real subprocess, its JSON log lines collected as they come."""

    def __init__(self, port: int, data_dir: Path) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [str(LEVEE), "up", "--port", str(port), "--data", str(data_dir)],
            env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self.lines.append(line.decode(errors="replace"))

    def events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in list(self.lines):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("event") == name:
                found.append(record)
        return found

    def wait_for(self, what: str, condition: Any, bound: float = START_BOUND) -> Any:
        deadline = time.monotonic() + bound
        while time.monotonic() < deadline:
            if (result := condition()) is not None:
                return result
            assert self.proc.poll() is None, f"levee up exited with {self.proc.returncode}:\n{self.output}"
            time.sleep(0.1)
        raise AssertionError(f"{what} not within {bound:.0f}s:\n{self.output}")

    def healthz(self) -> tuple[int, dict[str, Any]] | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return None
        except OSError:
            return None

    def ready(self) -> dict[str, Any]:
        """/healthz answers 200, and the launcher has logged where everything is."""
        health = self.wait_for("healthz 200", self.healthz)
        ready = self.wait_for("levee_ready", lambda: next(iter(self.events("levee_ready")), None))
        return {"healthz": health[1], **ready}

    def interrupt(self, sig: signal.Signals = signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(STOP_BOUND)
        finally:
            self.kill()
        self._reader.join(5)
        return code

    def wait_exit(self, bound: float) -> int:
        code = self.proc.wait(bound)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def started_pids(self) -> dict[str, int]:
        pids = {"nats-server": self.events("nats_started")[0]["pid"],
                "postgres": self.events("postgres_started")[0]["pid"]}  # fmt: skip
        for record in self.events("service_started"):
            pids[f"service {record['child']}"] = record["pid"]
        return pids

    @property
    def output(self) -> str:
        return "".join(self.lines[-60:])


def metrics_text(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode() if response.status == 200 else None
    except OSError:
        return None


def run_printed_drill(command: str, seconds: float, bound: float = 120.0) -> dict[str, Any]:
    """The banner's drill command as printed (from the repository, like the banner's `.venv/bin/levee`),
    only shorter; its JSON summary."""
    from services.cli import _drill, _parser

    argv, env = shlex.split(command), clean_env()
    while "=" in argv[0]:  # leading NAME=value words, as a shell reads them (LEVEE_DATA_DIR=...)
        name, value = argv.pop(0).split("=", 1)
        env[name] = value
    assert argv[0] == ".venv/bin/levee" and _parser().parse_args(argv[1:]).command is _drill, command
    argv[argv.index("--duration") + 1] = str(seconds)
    argv += ["--staff-tail", "3"]  # shorter too: the desks' work after the last complaint
    if not (ROOT / argv[0]).exists():
        argv[0] = str(LEVEE)  # a virtualenv elsewhere: the same entry point
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, timeout=bound, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return dict(json.loads(done.stdout.decode().strip().splitlines()[-1]))


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for a reaper (in a container nobody may reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in {"Z", "X"}


def servers(data_dir: Path) -> tuple[str, str]:
    """The NATS and PostgreSQL URLs with their passwords, as `levee up` leaves them for the CLI (the banner
    masks them)."""
    found = json.loads((data_dir / "running.json").read_text())
    return found["nats_url"], found["database_url"]


async def write_marks(data_dir: Path, subject: str, marker: str) -> None:
    """One event in the stream and one row in PostgreSQL, to look for after a restart."""
    nats_url, database_url = servers(data_dir)
    nc = await connect_nats(nats_url, name="front-door-test")
    try:
        await JetStreamEventStore(nc, StreamSpec()).append(
            [Write(subject, marker.encode(), expected_last_seq=0)]
        )
    finally:
        await nc.close()
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS front_door_marks (marker text PRIMARY KEY)")
        await conn.execute("INSERT INTO front_door_marks VALUES ($1)", marker)
    finally:
        await conn.close()


async def read_marks(data_dir: Path, subject: str) -> tuple[bytes | None, list[str]]:
    nats_url, database_url = servers(data_dir)
    nc = await connect_nats(nats_url, name="front-door-test")
    try:
        message = await JetStreamEventStore(nc, StreamSpec()).last_message(subject)
    finally:
        await nc.close()
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT marker FROM front_door_marks")
    finally:
        await conn.close()
    return (message.data if message else None), [row["marker"] for row in rows]


async def assert_servers_refuse_strangers(data_dir: Path) -> None:
    """Loopback is every account's on the machine: the embedded servers take only the passwords kept in the data
    directory, readable by its owner alone (found by a security review: both trusted any local connection)."""
    for name in ("nats_password", "postgres_password", "nats/levee.conf"):  # the config holds it too
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((data_dir / "nats").stat().st_mode) == 0o700
    nats_url, database_url = servers(data_dir)
    port = urlsplit(nats_url).port
    stranger = NATS()
    try:
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await stranger.connect(f"nats://127.0.0.1:{port}", allow_reconnect=False, connect_timeout=5)
    finally:
        await stranger.close()  # its socket, which a refused connect leaves open
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(f"postgresql://postgres@127.0.0.1:{urlsplit(database_url).port}/levee")


async def test_levee_up_serves_health_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "levee-data"
    subject = StreamSpec().event_subject(uuid.uuid4())
    marker = uuid.uuid4().hex

    first = Launcher(free_port(), data_dir)
    try:
        ready = first.ready()
        assert ready["healthz"] == {"status": "ok", "nats": "ok", "postgres": "ok", "stream_last_seq": 0}
        assert ready["health"] == f"http://127.0.0.1:{first.port}/healthz"
        assert ready["board"] == f"http://127.0.0.1:{first.port}/board"
        assert ready["data_dir"] == str(data_dir.resolve())
        await write_marks(data_dir, subject, marker)
        await assert_servers_refuse_strangers(data_dir)

        # Every process serves /metrics: the workers and the projector on the loopback ports the banner
        # names (before, LEVEE_METRICS_PORT defaulted to off and nothing but the API's was served).
        for name, gauge in LAG_GAUGES.items():
            url = ready[f"metrics_{name}"]
            assert url.startswith("http://127.0.0.1:") and url.endswith("/metrics"), url
            sample = gauge + "{"  # a reading, not only the gauge's HELP line
            first.wait_for(
                f"{name}'s {gauge} on {url}", lambda u=url, g=sample: g in (metrics_text(u) or "") or None
            )
        assert "# TYPE levee_http_requests" in (metrics_text(ready["metrics_api"]) or "")
        # The deadline watcher's figures come from dispatch alone (every process showed its last tick at 0).
        watcher = "levee_deadline_watcher_last_tick_timestamp_seconds"
        assert watcher in (metrics_text(ready["metrics_dispatch"]) or "")
        assert watcher not in (metrics_text(ready["metrics_triage"]) or "x")

        # The drill the banner prints works as printed: as a drill operator desk (no 429s), new complaints
        # (no replays), and staff desks whose own tokens read their queues.
        summary = run_printed_drill(ready["drill"], seconds=4)
        assert summary["created"] > 0 and summary["statuses"] == {"201": summary["sent"]}, summary
        assert summary["replayed"] == 0, summary
        assert not [k for k in summary["staff"] if k.startswith("queue:")], summary["staff"]

        # A service that crashes is restarted; the rest keep running.
        def api_starts() -> list[dict[str, Any]]:
            return [r for r in first.events("service_started") if r["child"] == "api"]

        assert {r["child"] for r in first.events("service_started")} >= {
            "api",
            "triage",
            "dispatch",
            "notices",
        }
        os.kill(api_starts()[0]["pid"], signal.SIGKILL)
        first.wait_for("api restarted", lambda: len(api_starts()) == 2 or None)
        first.wait_for("healthz 200 again", first.healthz)
        assert [r["restarts"] for r in api_starts()] == [0, 1]
        assert [r["child"] for r in first.events("service_died")] == ["api"]  # the others kept running
    finally:
        code = first.interrupt()
    assert code == 0, first.output
    assert first.events("levee_stopped"), first.output
    left_behind = {name: pid for name, pid in first.started_pids().items() if alive(pid)}
    assert not left_behind, f"still running after levee up exited: {left_behind}"
    assert (data_dir / "nats").is_dir() and (data_dir / "postgres" / "PG_VERSION").is_file()
    secret = (data_dir / "contact_secret").read_text()

    second = Launcher(free_port(), data_dir)
    try:
        ready = second.ready()
        assert ready["healthz"]["stream_last_seq"] >= 1
        assert await read_marks(data_dir, subject) == (marker.encode(), [marker])
    finally:
        # SIGHUP: the terminal or SSH session running `make run` closed. It once left both servers running.
        assert second.interrupt(signal.SIGHUP) == 0, second.output
    assert (data_dir / "contact_secret").read_text() == secret
    assert not [pid for pid in second.started_pids().values() if alive(pid)]


async def _healthz(
    settings: Settings, until: Callable[[int, dict[str, Any]], bool], bound: float = 10.0
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """GET /healthz on an in-process app until `until(status, body)` (the NATS link connects in the background)."""
    async with TestClient(TestServer(build_app(settings))) as client:
        deadline = time.monotonic() + bound
        while True:
            response = await client.get("/healthz")
            body = await response.json(content_type=None)
            if until(response.status, body) or time.monotonic() > deadline:
                return response.status, dict(response.headers), body
            await asyncio.sleep(0.05)


def _closed_port_url(scheme: str, path: str = "") -> str:
    return f"{scheme}://127.0.0.1:{free_port()}{path}"


async def test_healthz_is_200_with_the_stream_position_when_both_dependencies_answer(
    nats_url: str, database_url: str, stream_spec: StreamSpec
) -> None:
    settings = Settings(nats_url=nats_url, database_url=database_url, nats_stream=stream_spec.name)
    status, headers, body = await _healthz(settings, until=lambda status, _: status == 200)
    assert status == 200, body
    assert body == {"status": "ok", "nats": "ok", "postgres": "ok", "stream_last_seq": 0}
    assert headers["Content-Type"].startswith("application/json")


async def test_healthz_is_503_problem_naming_nats_when_nats_is_down(database_url: str) -> None:
    # With a password in the URL, as every service's is in deploy/: the public answer must not carry it.
    nats_url = _closed_port_url("nats").replace("nats://", "nats://api:s3cretpw@")
    settings = Settings(nats_url=nats_url, database_url=database_url)
    # At once: the app serves while NATS is unreachable, and says so.
    status, headers, body = await _healthz(settings, until=lambda *_: True)
    assert "s3cretpw" not in json.dumps(body) and "api:***@" in body["nats"]
    assert status == 503
    assert headers["Content-Type"].startswith("application/problem+json")
    assert int(headers["Retry-After"]) > 0
    assert body["status"] == 503
    assert body["type"] and body["title"]
    assert "NATS" in body["detail"] and "PostgreSQL" not in body["detail"]
    assert body["postgres"] == "ok"
    assert body["nats"].startswith("unavailable")


async def test_healthz_is_503_problem_naming_postgres_when_postgres_is_down(
    nats_url: str, stream_spec: StreamSpec
) -> None:
    settings = Settings(
        nats_url=nats_url, database_url=_closed_port_url("postgresql", "/levee"), nats_stream=stream_spec.name
    )
    # Once the NATS link has connected, PostgreSQL is the only one left down.
    status, headers, body = await _healthz(settings, until=lambda _, body: body.get("nats") == "ok")
    assert status == 503
    assert headers["Content-Type"].startswith("application/problem+json")
    assert "Retry-After" in headers
    assert "PostgreSQL" in body["detail"] and "NATS" not in body["detail"], body
    assert body["nats"] == "ok"


def test_levee_up_on_a_port_in_use_says_so_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        launcher = Launcher(squatter.getsockname()[1], tmp_path / "levee-data")
        try:
            assert launcher.wait_exit(STOP_BOUND) == 1, launcher.output
        finally:
            launcher.kill()
    [failed] = launcher.events("levee_failed")
    assert (
        f"127.0.0.1:{launcher.port} is in use" in failed["reason"] and "LEVEE_HTTP_PORT" in failed["reason"]
    )
    assert not launcher.events("nats_started") and not launcher.events("service_started")


def test_levee_up_with_a_broken_routing_table_says_so_and_starts_nothing(tmp_path: Path) -> None:
    """A deployment's routing.toml sends a category to a department the reference data lacks: dispatch would stop
    at its start and be restarted for ever, the reason buried in the log. The launcher says it once instead."""
    data_dir = tmp_path / "levee-data"
    data_dir.mkdir()
    (data_dir / "routing.toml").write_text(
        '[categories]\nflooding = ["no_such_department"]\n', encoding="utf-8"
    )
    launcher = Launcher(free_port(), data_dir)
    try:
        assert launcher.wait_exit(STOP_BOUND) == 1, launcher.output
    finally:
        launcher.kill()
    [failed] = launcher.events("levee_failed")
    assert "routing.toml" in failed["reason"] and "no_such_department" in failed["reason"], failed
    assert not launcher.events("nats_started") and not launcher.events("service_started")


async def test_levee_up_after_a_killed_launcher_stops_its_leftover_servers_first(tmp_path: Path) -> None:
    data_dir = tmp_path / "levee-data"
    first = Launcher(free_port(), data_dir)
    try:
        first.ready()
        # A second launcher on the same data directory refuses, and leaves the first alone.
        second = Launcher(free_port(), data_dir)
        assert second.wait_exit(START_BOUND) == 1
        assert any("another `levee up` is running" in line for line in second.lines), second.output
        assert first.healthz() is not None
        pids = first.started_pids()
    finally:
        first.kill()  # SIGKILL: no chance to stop anything
    services = {name: pid for name, pid in pids.items() if name.startswith("service ")}
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in services.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [name for name, pid in services.items() if alive(pid)], "a service outlived its launcher"
    servers = {name: pid for name, pid in pids.items() if name not in services}
    assert all(alive(pid) for pid in servers.values()), "the servers should be orphans now, not gone"

    third = Launcher(free_port(), data_dir)
    try:
        third.ready()
        stopped = {record["server"]: record["pid"] for record in third.events("leftover_server_stopping")}
        assert stopped == {"nats": pids["nats-server"], "postgres": pids["postgres"]}
        assert not [pid for pid in pids.values() if alive(pid)]
    finally:
        assert third.interrupt() == 0, third.output


def test_levee_up_brings_back_a_nats_server_or_postgres_that_died(tmp_path: Path) -> None:
    launcher = Launcher(free_port(), tmp_path / "levee-data")
    try:
        launcher.ready()
        for server in ("nats", "postgres"):
            pid = launcher.started_pids()["nats-server" if server == "nats" else "postgres"]
            os.kill(pid, signal.SIGKILL)
            launcher.wait_for(
                f"{server} restarted",
                lambda s=server: next(
                    (e for e in launcher.events("server_restarted") if e["server"] == s), None
                ),
            )
            launcher.wait_for("healthz 200 again", launcher.healthz)
        assert [e["server"] for e in launcher.events("server_died")] == ["nats", "postgres"]
    finally:
        code = launcher.interrupt()
    assert code == 0, launcher.output
