"""Intake throughput: POST /api/v1/complaints end to end, each 201 durably stored (fsync always).

    .venv/bin/python bench/intake.py [--requests 20000] [--concurrency 64] [--personal 1.0]

Starts its own nats-server (sync_interval: always) and PostgreSQL in a temporary directory on free
loopback ports, runs the API as a separate process (`levee serve api`, so the load generator and the API
do not share one event loop), mints an operator token (staff tokens are not rate-limited) and drives
intake with `--concurrency` aiohttp clients. `--personal` is the share of complaints carrying a reporter
(personal data: a key written to PostgreSQL before the event). Prints complaints/s and p50/p99 latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from services.api.tokens import TokenStore
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


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def drive(
    url: str, token: str, total: int, concurrency: int, personal: float
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    remaining = iter(range(total))
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def worker() -> None:
            for n in remaining:
                body = {**BODY, "reporter": REPORTER} if (n % 100) < personal * 100 else BODY
                started = time.perf_counter()
                async with session.post(url, json=body) as response:
                    await response.read()
                    statuses[response.status] = statuses.get(response.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        await worker_warmup(session, url)
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    if set(statuses) != {201}:
        raise SystemExit(f"not every request was stored: {statuses}")
    return total / elapsed, latencies


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
        "LEVEE_CONTACT_SECRET": SECRET, "LEVEE_LOG_LEVEL": "warning", "LEVEE_LOG_FORMAT": "json",
    }  # fmt: skip
    api = await asyncio.create_subprocess_exec(
        str(LEVEE), "serve", "api", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=sys.stderr
    )
    try:
        token = await mint_token(postgres.dsn)
        url = f"http://127.0.0.1:{port}/api/v1/complaints"
        rate, latencies = await drive(url, token, args.requests, args.concurrency, args.personal)
        p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
        sys.stdout.write(
            f"POST /api/v1/complaints x {args.requests:,}, concurrency {args.concurrency}, "
            f"{args.personal:.0%} with a reporter, fsync always\n"
            f"{rate:,.0f} complaints/s   p50 {p50:.1f} ms   p99 {p99:.1f} ms   (cores: {os.cpu_count()})\n"
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
    asyncio.run(main(parser.parse_args()))
