"""Intake throughput: POST /api/v1/complaints end to end, each 201 durably stored (fsync always).

    .venv/bin/python bench/intake.py [--requests 20000] [--concurrency 64] [--personal 1.0] [--keyed] [--varied]

Starts its own nats-server (sync_interval: always) and PostgreSQL in a temporary directory on free
loopback ports, runs the API as a separate process (`levee serve api`, so the load generator and the API
do not share one event loop), mints an operator token (staff tokens are not rate-limited) and drives
intake with `--concurrency` aiohttp clients. `--personal` is the share of complaints carrying a reporter
(personal data: a key written to PostgreSQL before the event); `--keyed` gives every request its own
Idempotency-Key, as apps and the drill send one (a claim row in PostgreSQL). Prints complaints/s, p50/p99 latency and the
API process's CPU time per complaint: the load generator shares the cores, and on a busy machine CPU per
complaint compares two versions more steadily than the rate does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from services.api.tokens import TokenStore
from services.drill.scenario import load_scenario, submissions
from services.embedded.nats_server import NatsServer
from services.embedded.ports import free_port
from services.embedded.postgres_server import PostgresServer

LEVEE = Path(sys.executable).parent / "levee"
SECRET = "bench-contact-secret-0123456789abcdef0123"
BODY: dict[str, Any] = {
    "channel": "hotline",
    "description": "Water is coming into the ground floor, two elderly people inside. 一楼进水，两位老人被困。",
    "category": "flooding",
    "location": {"lat": 22.52, "lon": 113.93, "address": "12 Shore Road, flat 3B"},
    "people_affected": 2,
    "vulnerable": ["elderly"],
}
REPORTER = {"name": "Chan Tai-man", "phone": "+852 9123 4567"}
JSON = {"Content-Type": "application/json"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc; 0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def descriptions(total: int, varied: bool) -> list[str]:
    """One text for every request, or (`varied`) a different one each, as in a surge: the typhoon drill's texts,
    each made unique, so every text the API reads (life first, masking) is one it has not read before."""
    if not varied:
        return [BODY["description"]]
    texts = [
        s.body["description"] for s in submissions(load_scenario("typhoon"), seed=1, rate=400, duration=10)
    ]
    return [f"{texts[n % len(texts)]} ({n})" for n in range(total)]


async def drive(
    url: str,
    token: str,
    total: int,
    concurrency: int,
    personal: float,
    api_pid: int,
    *,
    keyed: bool = False,
    varied: bool = False,
) -> tuple[float, list[float], float]:
    """(complaints/s, latencies, API CPU seconds used during the timed part)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = iter(range(total))
    run = os.urandom(4).hex()  # keys of one run only
    headers = {"Authorization": f"Bearer {token}"}
    # Encoded once: the load generator shares the cores with the API, so it spends as little as it can.
    texts = descriptions(total, varied)
    with_reporter = [json.dumps({**BODY, "description": t, "reporter": REPORTER}).encode() for t in texts]
    without = [json.dumps({**BODY, "description": t}).encode() for t in texts]
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            for n in remaining:
                body = (with_reporter if (n % 100) < personal * 100 else without)[n % len(texts)]
                started = time.perf_counter()
                sent = {**JSON, "Idempotency-Key": f"bench-{run}-{n}"} if keyed else JSON
                async with session.post(url, data=body, headers=sent) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        await worker_warmup(session, url)
        cpu_before, own_before = cpu_seconds(api_pid), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu, own = cpu_seconds(api_pid) - cpu_before, time.process_time() - own_before
        sys.stderr.write(f"load generator CPU: {own / total * 1e6:.0f} µs per complaint\n")
    if set(statuses) != {201}:
        raise SystemExit(f"not every request was stored: {statuses}")
    return total / elapsed, latencies, cpu


async def worker_warmup(session: aiohttp.ClientSession, url: str) -> None:
    """Until the API has its NATS stream (it connects in the background) and has made its tables."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            async with session.post(url, json=BODY) as response:
                if response.status == 201:
                    return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the API did not become ready within 60 s")


async def mint_token(dsn: str) -> str:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        token, _ = await TokenStore(pool).create("operator", "Bench hotline desk")
    finally:
        await pool.close()
    return token


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="levee-bench-intake-"))
    nats = NatsServer(root / "nats").start()
    postgres = PostgresServer(root / "pg").start()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVEE_")} | {
        "NATS_URL": nats.url, "DATABASE_URL": postgres.dsn, "LEVEE_HTTP_PORT": str(port),
        "LEVEE_CONTACT_SECRET": SECRET, "LEVEE_LOG_LEVEL": args.log_level, "LEVEE_LOG_FORMAT": "json",
    }  # fmt: skip
    # Below warning, its lines would flood the terminal: written (formatted, as in production) and dropped.
    api_log = sys.stderr if args.log_level.lower() in ("warning", "error") else asyncio.subprocess.DEVNULL
    api = await asyncio.create_subprocess_exec(
        str(LEVEE), "serve", "api", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=api_log
    )
    try:
        token = await mint_token(postgres.dsn)
        url = f"http://127.0.0.1:{port}/api/v1/complaints"
        rate, latencies, cpu = await drive(
            url, token, args.requests, args.concurrency, args.personal, api.pid, keyed=args.keyed,
            varied=args.varied,
        )  # fmt: skip
        p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
        sys.stdout.write(
            f"POST /api/v1/complaints x {args.requests:,}, concurrency {args.concurrency}, "
            f"{args.personal:.0%} with a reporter{', each with an Idempotency-Key' if args.keyed else ''}"
            f"{', each text new' if args.varied else ', one text'}, "
            "fsync always\n"
            f"{rate:,.0f} complaints/s   p50 {p50:.1f} ms   p99 {p99:.1f} ms   (cores: {os.cpu_count()})\n"
            f"API process CPU: {cpu / args.requests * 1e6:.0f} µs per complaint "
            f"({cpu / (args.requests / rate):.0%} of one core)   load average: {os.getloadavg()[0]:.2f}\n"
        )
    finally:
        api.terminate()
        await asyncio.wait_for(api.wait(), 30)
        postgres.stop()
        nats.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--personal", type=float, default=1.0, help="share of complaints with a reporter, 0..1"
    )
    parser.add_argument("--keyed", action="store_true", help="an Idempotency-Key on every request")
    parser.add_argument(
        "--varied", action="store_true", help="a new text for every request (drill texts), as in a surge"
    )
    parser.add_argument(
        "--log-level", default="warning", help="the API's; info writes its per-request lines (to /dev/null)"
    )
    asyncio.run(main(parser.parse_args()))
