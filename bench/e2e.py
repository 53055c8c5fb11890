"""End to end: the whole system as `levee up` starts it, driven at increasing rates through the API.

    .venv/bin/python bench/e2e.py [--rates 250,500,1000,2000] [--seconds 15]

Starts `levee up` on a free port and a temporary data directory, mints an operator token (staff are not
rate-limited; every POST carries it) and a command token (for the board), and measures first the raw
JetStream ceiling: atomic batches of 500 small messages appended with `JetStreamEventStore.append` to a
separate fresh stream (BENCH_CEILING) on the same server for `--ceiling-seconds`. Then, for each rate, it
POSTs the typhoon drill's complaints (services/drill/scenario.py, Poisson arrivals) for `--seconds` and
waits (bounded by `--drain`) until every worker and the projection have caught up. Per rate it prints:

- accepted/s: 201s per second of sending; the ratio to the ceiling;
- board p50/p99: for a sample of complaints, from sending the POST to the moment the complaint's id is in
  `levee_read.complaints` (a LISTEN on the projector's `levee_projection` NOTIFY channel wakes a query for
  the sampled ids still missing; the time taken is when that query started, so it is an upper bound);
- lag: stream events after each worker's tracking position (triage, dispatch, notices) and after the
  projection's position, the largest seen while sending, and how long it took to reach zero afterwards;
- CPU (% of one core, over the sending window) and resident memory of each process: the launcher, each
  service (pids from the launcher's `service_started` log lines), nats-server, PostgreSQL (postmaster and
  its backends) and this load generator, which shares the machine.

With `--boards N`, N command boards stay open during the run, each refetching the board on every projection
commit as the page does; it prints how long their GETs took. With `--every N` it also prints, for each rate,
a row per N seconds of sending: a long run at one rate (`--rates 500 --seconds 300`, the drill of issue 6)
shows whether latency, lag or memory grow as the surge goes on, and the stream's size beside nats-server's
memory (which grows with it: docs/operations.md, "Known problems").

Loopback only; stops by itself; SIGINTs the launcher and waits for it at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from events.store import JetStreamEventStore, StoreError, Write
from events.store.connection import connect_nats
from events.store.stream import DEFAULT_STREAM, StreamSpec, ensure_stream
from services.drill.scenario import load_scenario, submissions
from services.embedded.ports import free_port
from services.runtime.tracking import load_tracking

LEVEE = Path(sys.executable).parent / "levee"
WORKERS = ("triage", "dispatch", "notices")
CHANNEL = "levee_projection"  # projections.runner.CHANNEL
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT = 120.0
CEILING_STREAM = "BENCH_CEILING"


def log(message: str) -> None:
    sys.stderr.write(f"[e2e {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- processes: CPU and memory from /proc ----------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a live process, None if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLOCK_TICK


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (found := _stat(int(entry.name))):
            children.setdefault(found[0], []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, all cores, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Usage:
    cpu: dict[str, dict[int, float]]  # group -> pid -> CPU seconds
    rss: dict[str, int]  # group -> KiB
    at: float
    machine: tuple[int, int] = (0, 0)


class Processes:
    """Named groups of pids: the launcher, each service, nats-server, postgres (with backends), the bench."""

    def __init__(self, launcher_pid: int, data: Path, services: dict[str, int]) -> None:
        self.launcher_pid = launcher_pid
        self.data = data
        self.services = services

    def _groups(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {"launcher": [self.launcher_pid]}
        groups.update({name: [pid] for name, pid in sorted(self.services.items())})
        for name, label in (("nats", "nats-server"), ("postgres", "postgres")):
            with contextlib.suppress(FileNotFoundError, ValueError):
                pid = int((self.data / f"{name}.pid").read_text().strip())
                groups[label] = _descendants(pid) if name == "postgres" else [pid]
        groups["bench (load)"] = [os.getpid()]
        return groups

    def snapshot(self) -> Usage:
        cpu: dict[str, dict[int, float]] = {}
        rss: dict[str, int] = {}
        for group, pids in self._groups().items():
            cpu[group] = {pid: found[1] for pid in pids if (found := _stat(pid))}
            rss[group] = sum(_rss_kib(pid) for pid in pids)
        return Usage(cpu, rss, time.perf_counter(), machine_ticks())


def machine_busy(before: Usage, after: Usage) -> float:
    """Share of the whole machine (all cores) busy between two snapshots, whoever used it."""
    busy, total = after.machine[0] - before.machine[0], after.machine[1] - before.machine[1]
    return busy / total if total else 0.0


def cpu_percent(before: Usage, after: Usage) -> dict[str, float]:
    wall = after.at - before.at
    out = {}
    for group, pids in after.cpu.items():
        used = sum(seconds - before.cpu.get(group, {}).get(pid, 0.0) for pid, seconds in pids.items())
        out[group] = 100.0 * used / wall if wall > 0 else 0.0
    return out


# -- the system under test ---------------------------------------------------------------------------


class System:
    """`levee up` as a subprocess; its (and its children's) JSON log lines are read for the service pids."""

    def __init__(self, data: Path, port: int) -> None:
        self.data = data
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.proc: asyncio.subprocess.Process | None = None
        self.services: dict[str, int] = {}
        self.tail: list[str] = []
        self.died: Counter[str] = Counter()
        self._reader: asyncio.Task[None] | None = None
        self.running: dict[str, Any] = {}

    async def start(self) -> None:
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("LEVEE_", "NATS_URL", "DATABASE_URL"))
        }
        env["LEVEE_LOG_FORMAT"] = "json"
        self.proc = await asyncio.create_subprocess_exec(
            str(LEVEE), "up", "--port", str(self.port), "--data", str(self.data),
            env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE, start_new_session=True, limit=1 << 20,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read_logs())
        await self._wait_ready()

    async def _read_logs(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.tail = [*self.tail[-40:], text]
            if '"service_started"' in text or '"service_died"' in text:
                with contextlib.suppress(ValueError, KeyError):
                    entry = json.loads(text)
                    if entry["event"] == "service_started":
                        self.services[entry["child"]] = int(entry["pid"])
                    else:
                        self.died[entry["child"]] += 1

    async def _wait_ready(self) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + READY_TIMEOUT
        running = self.data / "running.json"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as session:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise SystemExit("levee up exited early:\n" + "\n".join(self.tail[-20:]))
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(self.base_url + "/healthz") as response:
                        if response.status == 200 and running.exists():
                            self.running = json.loads(running.read_text())
                            return
                await asyncio.sleep(0.25)
        raise SystemExit(f"levee up not ready within {READY_TIMEOUT:.0f} s:\n" + "\n".join(self.tail[-20:]))

    async def token(self, role: str, name: str) -> str:
        env = {**os.environ, "LEVEE_DATA_DIR": str(self.data)}
        proc = await asyncio.create_subprocess_exec(
            str(LEVEE), "token", "create", "--role", role, "--name", name, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        if proc.returncode != 0:
            raise SystemExit(f"levee token create failed: {err.decode(errors='replace')[-2000:]}")
        return out.decode().strip()

    async def stop(self) -> None:
        if self._reader is not None and self.proc is not None:
            if self.proc.returncode is None:
                self.proc.send_signal(signal.SIGINT)
                try:
                    await asyncio.wait_for(self.proc.wait(), 90)
                except TimeoutError:
                    log("levee up did not stop within 90 s after SIGINT: killing it")
                    self.proc.kill()
                    await self.proc.wait()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reader, 10)


# -- the raw ceiling -------------------------------------------------------------------------------------


async def ceiling(nats_url: str, seconds: float, batch: int, in_flight: int) -> float:
    """Messages/s appended as atomic batches of `batch` new subjects, `in_flight` batches at a time."""
    nc = await connect_nats(nats_url, name="bench-ceiling")
    spec = StreamSpec(name=CEILING_STREAM)
    try:
        await ensure_stream(nc, spec)
        store = JetStreamEventStore(nc, spec, timeout=10.0)
        data = json.dumps({"type": "BenchEvent", "note": "x" * 64, "n": 0}).encode()  # ~100 bytes
        stored = 0
        started = time.perf_counter()
        deadline = started + seconds

        async def writer() -> None:
            nonlocal stored
            while time.perf_counter() < deadline:
                # A new aggregate each, with the concurrency check intake uses (expected sequence 0).
                writes = [
                    Write(spec.event_subject(uuid.uuid4()), data, expected_last_seq=0) for _ in range(batch)
                ]
                stored += len(await store.append(writes))

        await asyncio.gather(*(writer() for _ in range(in_flight)))
        rate = stored / (time.perf_counter() - started)
        await nc.request(f"$JS.API.STREAM.DELETE.{CEILING_STREAM}", b"", timeout=10)
        return rate
    finally:
        await nc.close()


# -- board latency ---------------------------------------------------------------------------------------


class BoardWatcher:
    """When is a sampled complaint on the board? Woken by the projector's NOTIFY, and every 100 ms anyway."""

    def __init__(self, listen: asyncpg.Connection, query: asyncpg.Connection) -> None:
        self.listen = listen
        self.query = query
        self.pending: dict[uuid.UUID, float] = {}
        self.latencies: list[float] = []
        self.position = 0
        self.notifications = 0
        self._wake = asyncio.Event()
        self.settled = asyncio.Event()  # set while no sampled complaint is still awaited
        self.followers: list[asyncio.Event] = []  # set on each commit: the open boards' (BoardPages)
        self.settled.set()

    async def start(self) -> None:
        await self.listen.add_listener(CHANNEL, self._notified)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.notifications += 1
        with contextlib.suppress(ValueError, KeyError, TypeError):
            self.position = max(self.position, int(json.loads(payload)["position"]))
        self._wake.set()
        for follower in self.followers:
            follower.set()

    def expect(self, complaint_id: str, sent: float) -> None:
        self.pending[uuid.UUID(complaint_id)] = sent
        self.settled.clear()

    def reset(self) -> tuple[list[float], int]:
        latencies, missing = self.latencies, len(self.pending)
        self.latencies, self.pending = [], {}
        self.settled.set()
        return latencies, missing

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            self._wake.clear()
            if not self.pending:
                continue
            looked = time.perf_counter()
            try:
                rows = await self.query.fetch(
                    "SELECT id FROM levee_read.complaints WHERE id = ANY($1::uuid[])", list(self.pending)
                )
            except asyncpg.UndefinedTableError:
                continue  # the projector has not made its tables yet
            for row in rows:
                sent = self.pending.pop(row["id"], None)
                if sent is not None:
                    self.latencies.append(looked - sent)
            if not self.pending:
                self.settled.set()


# board.js waits for its board however long it takes; the API may hold one back up to MAX_PACE (10 s) after
# the last, and then compute it. The POSTs' `--timeout` would count such a board as a failure.
BOARD_TIMEOUT = aiohttp.ClientTimeout(total=60)


class BoardPages:
    """`--boards` command boards left open, as in a command centre: each refetches GET /api/v1/board (gzip)
    whenever the projection commits, one request at a time and once more if it committed meanwhile, as
    board.js does on the live stream's events."""

    def __init__(self, count: int, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.count, self.session, self.url = count, session, url
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
        self.latencies: list[float] = []
        self.failures: Counter[str] = Counter()

    async def run(self, watcher: BoardWatcher) -> None:
        await asyncio.gather(*(self._page(watcher) for _ in range(self.count)))

    async def _page(self, watcher: BoardWatcher) -> None:
        moved = asyncio.Event()
        watcher.followers.append(moved)
        while True:
            await moved.wait()
            moved.clear()
            begun = time.perf_counter()
            try:
                async with self.session.get(
                    self.url, headers=self.headers, timeout=BOARD_TIMEOUT
                ) as response:
                    await response.read()
                    if response.status == 200:
                        self.latencies.append(time.perf_counter() - begun)
                    else:
                        self.failures[str(response.status)] += 1
            except Exception as exc:  # counted, and the page goes on as a browser's would
                self.failures[type(exc).__name__] += 1

    def reset(self) -> tuple[list[float], Counter[str]]:
        out = self.latencies, self.failures
        self.latencies, self.failures = [], Counter()
        return out


# -- lag -------------------------------------------------------------------------------------------------


async def stream_bytes(store: JetStreamEventStore) -> int | None:
    """The event stream's bytes on disk (stream info), or None when the server does not say."""
    try:
        return int((await store.stream_state())["bytes"])
    except Exception:  # a figure for the report only: never the reason a run fails
        return None


async def lags(store: JetStreamEventStore, pg: asyncpg.Connection) -> dict[str, int]:
    """Stream events after each reader's stored position."""
    out = {}
    for worker in WORKERS:
        tracking = await load_tracking(store, worker)
        out[worker] = await store.count_after(tracking.position)
    try:
        position = await pg.fetchval(
            "SELECT position FROM levee_read.projection_tracking WHERE name = 'read_models'"
        )
    except asyncpg.UndefinedTableError:
        position = 0
    out["projection"] = await store.count_after(int(position or 0))
    return out


# -- one rate --------------------------------------------------------------------------------------------


@dataclass
class Window:
    """`--every` seconds of one rate: what was accepted, how fast, how far behind, how big."""

    ended: float  # seconds since the rate began
    accepted_per_s: float
    post_p99: float
    board: list[float]
    max_lag: dict[str, int]
    cpu_total: float  # % of one core, all Levee processes and the bench
    rss: dict[str, int]  # group -> KiB at the window's end
    stream_bytes: int | None = None  # the event stream's size then (nats-server's memory grows with it)


@dataclass
class StepResult:
    rate: float
    sent: int = 0
    not_sent: int = 0  # still scheduled when the sending window closed (the client was at its limit)
    machine_busy: float = 0.0
    load: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    send_seconds: float = 0.0
    post_latencies: list[float] = field(default_factory=list)
    board: list[float] = field(default_factory=list)
    board_missing: int = 0
    max_lag: dict[str, int] = field(default_factory=dict)
    end_lag: dict[str, int] = field(default_factory=dict)
    drain_seconds: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)
    rss: dict[str, int] = field(default_factory=dict)
    board_get_ms: float = float("nan")
    events: int = 0
    windows: list[Window] = field(default_factory=list)
    board_gets: list[float] = field(default_factory=list)  # the open boards' refetches (--boards)
    board_get_failures: Counter[str] = field(default_factory=Counter)

    @property
    def accepted_per_s(self) -> float:
        return self.statuses.get(201, 0) / self.send_seconds if self.send_seconds else 0.0


async def run_step(
    args: argparse.Namespace,
    rate: float,
    seed: int,
    *,
    system: System,
    session: aiohttp.ClientSession,
    operator: str,
    command: str,
    watcher: BoardWatcher,
    store: JetStreamEventStore,
    pg: asyncpg.Connection,
    processes: Processes,
    pages: BoardPages | None = None,
) -> StepResult:
    result = StepResult(rate)
    plan = list(submissions(load_scenario(args.scenario), seed=seed, rate=rate, duration=args.seconds))
    sample_every = max(1, len(plan) // args.samples)
    url = system.base_url + "/api/v1/complaints"
    gate = asyncio.Semaphore(args.concurrency)
    tasks: set[asyncio.Task[None]] = set()
    run_id = uuid.uuid4().hex[:8]
    first_seq = await store.last_sequence()

    async def submit(n: int, body: dict[str, Any]) -> None:
        headers = {"Authorization": f"Bearer {operator}"}
        if args.idempotency_keys:  # as `levee drill` sends them
            headers["Idempotency-Key"] = f"e2e-{run_id}-{n}"
        sent = time.perf_counter()
        try:
            async with session.post(url, json=body, headers=headers) as response:
                payload = await response.json(content_type=None)
                result.statuses[response.status] += 1
                if response.status == 201:
                    result.post_latencies.append(time.perf_counter() - sent)
                    if n % sample_every == 0:
                        watcher.expect(str(payload["id"]), sent)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            result.errors[type(exc).__name__] += 1
        finally:
            gate.release()

    window_lag: dict[str, int] = {}

    async def sample_lag(stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(StoreError):
                for name, value in (await lags(store, pg)).items():
                    result.max_lag[name] = max(result.max_lag.get(name, 0), value)
                    window_lag[name] = max(window_lag.get(name, 0), value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    async def report_windows(stop: asyncio.Event) -> None:
        last, accepted, posts, board = processes.snapshot(), 0, 0, 0
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), args.every)
            size = await stream_bytes(store)  # first: the window's counts are taken together just below
            now = processes.snapshot()
            wall = now.at - last.at
            if wall < args.every / 2:  # the end of sending cut it short: too few to say anything
                break
            window = Window(
                ended=now.at - started,
                accepted_per_s=(result.statuses.get(201, 0) - accepted) / wall,
                post_p99=percentile(result.post_latencies[posts:], 0.99),
                board=watcher.latencies[board:],
                max_lag=dict(window_lag),
                cpu_total=sum(cpu_percent(last, now).values()),
                rss=now.rss,
                stream_bytes=size,
            )
            result.windows.append(window)
            log(f"  {window.ended:5.0f} s: accepted {window.accepted_per_s:,.0f}/s, board p99 "
                f"{percentile(window.board, 0.99) * 1000:,.0f} ms, lag {window.max_lag}")  # fmt: skip
            last, accepted = now, result.statuses.get(201, 0)
            posts, board = len(result.post_latencies), len(watcher.latencies)
            window_lag.clear()

    if pages is not None:
        pages.reset()  # what came in while the last rate drained is not this rate's
    before = processes.snapshot()
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_lag(stop_sampling))
    started = time.perf_counter()
    reporter = asyncio.create_task(report_windows(stop_sampling)) if args.every > 0 else None
    for n, item in enumerate(plan):
        if time.perf_counter() - started > args.seconds:
            result.not_sent = len(plan) - n  # the system is slower than the offered rate: stop offering
            break
        delay = started + item.at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await gate.acquire()
        result.sent += 1
        task = asyncio.create_task(submit(n, item.body))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    result.send_seconds = time.perf_counter() - started
    after = processes.snapshot()
    stop_sampling.set()
    await sampler
    if reporter is not None:
        await reporter
    if pages is not None:
        result.board_gets, result.board_get_failures = pages.reset()
    result.cpu = cpu_percent(before, after)
    result.machine_busy = machine_busy(before, after)
    result.load = os.getloadavg()[0]
    result.rss = after.rss

    # Drain: every reader at zero lag and every sampled complaint on the board (bounded).
    drain_started = time.perf_counter()
    result.end_lag = await lags(store, pg)
    deadline = drain_started + args.drain
    current = result.end_lag
    while time.perf_counter() < deadline:
        if not any(current.values()) and not watcher.pending:
            result.drain_seconds = time.perf_counter() - drain_started
            break
        await asyncio.sleep(0.25)
        with contextlib.suppress(StoreError):
            current = await lags(store, pg)
    result.board, result.board_missing = watcher.reset()
    result.events = await store.count_after(first_seq)

    begun = time.perf_counter()
    async with session.get(
        system.base_url + "/api/v1/board", headers={"Authorization": f"Bearer {command}"}
    ) as response:
        await response.read()
        if response.status == 200:
            result.board_get_ms = (time.perf_counter() - begun) * 1000
    return result


# -- report ----------------------------------------------------------------------------------------------


def render(results: list[StepResult], ceilings: dict[int, float], args: argparse.Namespace) -> str:
    ceiling_rate = max(ceilings.values())
    tried = ", ".join(f"{n} in flight {rate:,.0f}" for n, rate in ceilings.items())
    lines = [
        f"levee up, end to end: drill scenario {args.scenario!r}, {args.seconds:g} s per rate, "
        f"operator token, {'an' if args.idempotency_keys else 'no'} Idempotency-Key, "
        f"at most {args.concurrency} requests in flight, cores: {os.cpu_count()}",
        f"raw JetStream ceiling (atomic batches of {args.ceiling_batch} on one connection, same server, "
        f"{args.ceiling_seconds:g} s each): {ceiling_rate:,.0f} messages/s (best of: {tried})",
        "",
        "| offered/s | sent/s (not sent) | accepted/s (201) | other | POST p50 / p99 ms | board p50 / p99 ms | board n (missing) "
        "| events/complaint | max lag triage / dispatch / notices / projection | drained in | accepted/ceiling |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        other = {str(k): v for k, v in r.statuses.items() if k != 201} | dict(r.errors)
        lag = " / ".join(f"{r.max_lag.get(name, 0):,}" for name in (*WORKERS, "projection"))
        drained = f"{r.drain_seconds:.1f} s" if r.drain_seconds is not None else f"not in {args.drain:g} s"
        accepted = r.statuses.get(201, 0)
        lines.append(
            f"| {r.rate:,.0f} | {r.sent / r.send_seconds:,.0f} ({r.not_sent:,}) | {r.accepted_per_s:,.0f} "
            f"| {json.dumps(other) if other else 0} "
            f"| {percentile(r.post_latencies, 0.5) * 1000:,.0f} / {percentile(r.post_latencies, 0.99) * 1000:,.0f} "
            f"| {percentile(r.board, 0.5) * 1000:,.0f} / {percentile(r.board, 0.99) * 1000:,.0f} "
            f"| {len(r.board)} ({r.board_missing}) | {r.events / accepted if accepted else 0:.1f} "
            f"| {lag} | {drained} | {r.accepted_per_s / ceiling_rate:.1%} |"
        )
    groups = list(results[0].cpu) if results else []
    lines += [
        "",
        "CPU (% of one core, while sending) and resident memory (MiB; postgres sums its backends) per process:",
        "",
        "| offered/s | " + " | ".join(groups) + " | all of these | whole machine busy | load avg (1 min) |",
        "|---|" + "---|" * (len(groups) + 3),
    ]
    cores = os.cpu_count() or 1
    for r in results:
        cells = [f"{r.cpu.get(g, 0):.0f}% / {r.rss.get(g, 0) / 1024:.0f}" for g in groups]
        lines.append(
            f"| {r.rate:,.0f} | " + " | ".join(cells) + f" | {sum(r.cpu.values()):.0f}% "
            f"| {r.machine_busy * 100 * cores:.0f}% of {cores * 100}% | {r.load:.1f} |"
        )
    for r in results:
        lines += _render_windows(r) if r.windows else []
    if args.boards:
        lines.append("")
        lines.append(f"{args.boards} open boards refetching on every commit, while sending: " + "; ".join(
            f"{r.rate:,.0f}/s {len(r.board_gets):,} GETs, p50 / p99 {percentile(r.board_gets, 0.5) * 1000:,.0f} / "
            f"{percentile(r.board_gets, 0.99) * 1000:,.0f} ms"
            + (f", failed {dict(r.board_get_failures)}" if r.board_get_failures else "")
            for r in results
        ))  # fmt: skip
    lines.append("")
    lines.append("board GET (command token) after each rate: " + ", ".join(
        f"{r.rate:,.0f}/s {r.board_get_ms:.0f} ms" for r in results
    ))  # fmt: skip
    return "\n".join(lines) + "\n"


def _render_windows(r: StepResult) -> list[str]:
    groups = list(r.windows[0].rss)
    lines = [
        "",
        f"{r.rate:,.0f}/s over time (each row: the seconds of sending up to then; memory in MiB at its end):",
        "",
        "| until | accepted/s | POST p99 ms | board p50 / p99 ms (n) | max lag triage / dispatch / notices "
        "/ projection | CPU, all | " + " | ".join(f"{g} MiB" for g in groups) + " | stream MiB |",
        "|---|---|---|---|---|---|" + "---|" * (len(groups) + 1),
    ]
    for w in r.windows:
        lag = " / ".join(f"{w.max_lag.get(name, 0):,}" for name in (*WORKERS, "projection"))
        lines.append(
            f"| {w.ended:.0f} s | {w.accepted_per_s:,.0f} | {w.post_p99 * 1000:,.0f} "
            f"| {percentile(w.board, 0.5) * 1000:,.0f} / {percentile(w.board, 0.99) * 1000:,.0f} ({len(w.board)}) "
            f"| {lag} | {w.cpu_total:.0f}% | "
            + " | ".join(f"{w.rss.get(g, 0) / 1024:.0f}" for g in groups)
            + (f" | {w.stream_bytes / 2**20:.0f} |" if w.stream_bytes is not None else " | ? |")
        )
    return lines


async def warm_up(
    session: aiohttp.ClientSession, system: System, operator: str, watcher: BoardWatcher
) -> None:
    """One complaint through the whole pipeline before measuring: the projector has its tables."""
    plan = next(iter(submissions(load_scenario("typhoon"), seed=0, rate=10, duration=10)))
    headers = {"Authorization": f"Bearer {operator}"}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with session.post(
                system.base_url + "/api/v1/complaints", json=plan.body, headers=headers
            ) as r:
                if r.status == 201:
                    watcher.expect(str((await r.json())["id"]), time.perf_counter())
                    break
        await asyncio.sleep(0.5)
    try:
        await asyncio.wait_for(watcher.settled.wait(), max(0.0, deadline - time.monotonic()))
    except TimeoutError:
        raise SystemExit("warm-up complaint not on the board within 60 s") from None
    watcher.reset()


async def main(args: argparse.Namespace) -> None:
    rates = [float(rate) for rate in args.rates.split(",") if rate.strip()]
    with tempfile.TemporaryDirectory(prefix="levee-e2e-", ignore_cleanup_errors=True) as tmp:
        system = System(Path(tmp) / "data", free_port())
        try:
            log(f"starting levee up on {system.base_url}, data {system.data}")
            await system.start()
            operator = await system.token("operator", "bench")
            command = await system.token("command", "bench board")
            nats_url, dsn = system.running["nats_url"], system.running["database_url"]
            log(f"ready: services {system.services}")

            log(f"measuring the raw ceiling for {args.ceiling_seconds:g} s")
            ceilings = {}
            for in_flight in (int(n) for n in args.ceiling_in_flight.split(",")):
                ceilings[in_flight] = await ceiling(
                    nats_url, args.ceiling_seconds, args.ceiling_batch, in_flight
                )
                log(f"ceiling with {in_flight} in flight: {ceilings[in_flight]:,.0f} messages/s")

            nc = await connect_nats(nats_url, name="bench-e2e")
            listen = await asyncpg.connect(dsn)
            query = await asyncpg.connect(dsn)
            pg = await asyncpg.connect(dsn)
            watcher = BoardWatcher(listen, query)
            await watcher.start()
            watching = asyncio.create_task(watcher.run())
            store = JetStreamEventStore(nc, StreamSpec(name=DEFAULT_STREAM), timeout=10.0)
            processes = Processes(system.proc.pid if system.proc else 0, system.data, system.services)
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            results: list[StepResult] = []
            following: asyncio.Task[None] | None = None
            try:
                async with aiohttp.ClientSession(
                    connector=connector, timeout=aiohttp.ClientTimeout(total=args.timeout)
                ) as session:
                    await warm_up(session, system, operator, watcher)
                    pages = BoardPages(args.boards, session, system.base_url + "/api/v1/board", command)
                    following = asyncio.create_task(pages.run(watcher)) if args.boards else None
                    for number, rate in enumerate(rates):
                        log(f"rate {rate:,.0f}/s for {args.seconds:g} s")
                        result = await run_step(
                            args, rate, args.seed + number, system=system, session=session,
                            operator=operator, command=command, watcher=watcher, store=store, pg=pg,
                            processes=processes, pages=pages if args.boards else None,
                        )  # fmt: skip
                        results.append(result)
                        log(f"accepted {result.accepted_per_s:,.0f}/s, board p99 "
                            f"{percentile(result.board, 0.99) * 1000:,.0f} ms")  # fmt: skip
            finally:
                for task in (watching, following):
                    if task is not None:
                        task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await task
                for conn in (listen, query, pg):
                    await conn.close()
                await nc.close()
            if system.died:
                log(f"services that died during the run: {dict(system.died)}")
            sys.stdout.write(render(results, ceilings, args))
            sys.stdout.flush()
        finally:
            log("stopping levee up (SIGINT)")
            await system.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="250,500,1000,2000", help="offered complaints/s, comma-separated")
    parser.add_argument("--seconds", type=float, default=15.0, help="seconds of sending per rate")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for lag to reach zero")
    parser.add_argument("--concurrency", type=int, default=512, help="requests in flight at most")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--samples", type=int, default=2000, help="complaints timed to the board per rate")
    parser.add_argument(
        "--boards", type=int, default=0, help="command boards left open, refetching on every commit (0: none)"
    )
    parser.add_argument(
        "--every", type=float, default=0.0, help="also report each rate per this many seconds (0: only whole)"
    )
    parser.add_argument("--scenario", default="typhoon")
    parser.add_argument(
        "--no-idempotency-keys", dest="idempotency_keys", action="store_false",
        help="POST without an Idempotency-Key (levee drill sends one with every complaint)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ceiling-seconds", type=float, default=5.0)
    parser.add_argument("--ceiling-batch", type=int, default=500)
    parser.add_argument(
        "--ceiling-in-flight",
        default="1,8",
        help="batches in flight on one connection, each tried; the best counts",
    )
    asyncio.run(main(parser.parse_args()))
