"""A worker's Prometheus metrics: its lag gauge, its failures and dead letters, served on LEVEE_METRICS_PORT."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.embedded.ports import free_port
from services.runtime.metrics import CONSUMER_LAG, metrics_server
from services.runtime.worker import Worker
from services.up import launcher
from tests.integration.runtime.test_worker import open_tally, seed
from tests.support.toy import HANDLERS, mapper

ROOT = Path(__file__).resolve().parents[3]
LAG = "levee_consumer_lag_events"


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    url = f"http://127.0.0.1:{port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_a_workers_metrics_server_shows_its_lag_falling_to_zero(store: JetStreamEventStore) -> None:
    await open_tally(store)
    await seed(store, [f"m{n}" for n in range(150)])
    name = f"toy-{store.spec.name.lower()}"
    worker = Worker(name, store, AggregateStore(store, mapper()), HANDLERS, batch_size=40)
    port = free_port()
    async with metrics_server("127.0.0.1", port):
        await worker.start()
        await worker.report_lag(await worker.process_batch())
        lag = (await scrape(port))[(LAG, (("worker", name),))]
        assert lag == await worker.lag() > 0  # the stream grew by the batch's effects too: read it back
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))
        try:
            async with asyncio.timeout(30):
                while (await scrape(port)).get((LAG, (("worker", name),))) != 0:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await running
    assert await worker.lag() == 0


async def test_handler_failures_and_dead_letters_are_counted(store: JetStreamEventStore) -> None:
    await open_tally(store)
    await seed(store, ["a", "poison-1", "b"])
    name = f"toy-{store.spec.name.lower()}"
    worker = Worker(name, store, AggregateStore(store, mapper()), HANDLERS, max_attempts=2)
    await worker.start()
    async with asyncio.timeout(30):
        while await worker.process_batch():
            pass
    assert REGISTRY.get_sample_value("levee_handler_failures_total", {"worker": name}) == 2
    assert REGISTRY.get_sample_value("levee_dead_letters_total", {"worker": name}) == 1


async def test_levee_serve_starts_a_metrics_server_on_levee_metrics_port(
    store: JetStreamEventStore, nats_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "NATS_URL": nats_url, "LEVEE_STREAM": store.spec.name,
        "LEVEE_METRICS_PORT": str(port), "LEVEE_LOG_LEVEL": "warning",
    }  # fmt: skip
    command = [sys.executable, "-m", "services.cli", "serve", "triage"]
    log = tmp_path / "triage.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=output)
    try:
        samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        async with asyncio.timeout(60):
            while (LAG, (("worker", "triage"),)) not in samples:
                assert process.poll() is None, log.read_text()
                try:
                    samples = await scrape(port)
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
        assert samples[(LAG, (("worker", "triage"),))] == 0  # an empty stream: nothing to catch up
        # At 0 before the first: an alert on increase() sees the first dead letter after a restart too.
        assert samples[("levee_dead_letters_total", (("worker", "triage"),))] == 0
        assert samples[("levee_handler_failures_total", (("worker", "triage"),))] == 0
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


async def test_a_metrics_port_already_taken_is_said_and_the_service_goes_on() -> None:
    """node_exporter's 9100 on the same host: the service used to die for its metrics, and be restarted for ever."""
    port = free_port()
    squatter = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", port)
    try:
        async with metrics_server("127.0.0.1", port) as bound:
            assert bound is None
    finally:
        squatter.close()
        await squatter.wait_closed()


async def test_levee_up_names_a_childs_metrics_port_only_once_the_child_answers_there(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Found by a review: with dispatch's port taken by another program, dispatch logged metrics_not_listening
    and the banner still named the port, where a scraper read someone else's figures."""
    monkeypatch.setattr(launcher, "METRICS_CONFIRM_SECONDS", 1.0)
    ours, squatted, nobody = free_port(), free_port(), free_port()

    async def someone_elses(request: web.Request) -> web.Response:
        return web.Response(text="# another exporter's figures\n")

    other = web.Application()
    other.router.add_get("/metrics", someone_elses)
    runner = web.AppRunner(other)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", squatted).start()
    try:
        async with metrics_server("127.0.0.1", ours, "triage"), aiohttp.ClientSession() as session:
            ports = {"triage": ours, "dispatch": squatted, "notices": nobody, "api": 0}
            found = await launcher._confirmed_metrics(session, "127.0.0.1", ports, asyncio.Event())
    finally:
        await runner.cleanup()
    assert found["triage"] == f"http://127.0.0.1:{ours}/metrics"
    assert found["dispatch"].startswith("none: ") and "answered by another program" in found["dispatch"]
    assert found["notices"].startswith("none: ") and "no answer" in found["notices"]
    assert "api" not in found  # the API serves /metrics on its own HTTP port


async def test_a_standby_overtaken_by_the_other_instance_reports_the_lag_left_not_zero(
    store: JetStreamEventStore,
) -> None:
    """Two instances of a worker: the one whose batch the other committed first read events, not nothing. Its lag
    went to 0 on every such batch, so one series of the two kept dropping to 0 (found by a review)."""
    await open_tally(store)
    await seed(store, [f"s{n}" for n in range(30)])
    name = f"toy-{store.spec.name.lower()}-standby"
    first = Worker(name, store, AggregateStore(store, mapper()), HANDLERS, batch_size=10)
    second = Worker(name, store, AggregateStore(store, mapper()), HANDLERS, batch_size=10)
    await first.start()
    await second.start()
    CONSUMER_LAG.labels(name).set(7)
    assert await first.process_batch() > 0
    assert await second.process_batch() == 0 and second.overtaken  # the same batch, committed by the first
    await second.report_lag(0)
    # Not 0: what is really left after the other instance's batch (read, not the last reading left frozen).
    assert REGISTRY.get_sample_value(LAG, {"worker": name}) == await second.lag() > 0
