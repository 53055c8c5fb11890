"""The live projection runner's lag gauge (a rebuild's runner leaves it alone)."""

from __future__ import annotations

import asyncio

import asyncpg
from prometheus_client import REGISTRY

from events.store import JetStreamEventStore
from tests.integration.projections.conftest import MakeRunner
from tests.integration.projections.day import write_day


def gauge(name: str, projection: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"projection": projection})


async def test_the_live_runner_reports_its_lag_and_position(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    day = await write_day(store)
    runner = await make_runner(batch_size=10, report_metrics=True, name="metrics_live")
    await runner.start()
    stopped = asyncio.Event()
    stopped.set()  # one batch, then return
    await runner.catch_up(stop=stopped)
    assert gauge("levee_projection_lag_events", "metrics_live") == day.events - 10
    await runner.catch_up()
    assert gauge("levee_projection_lag_events", "metrics_live") == 0
    assert gauge("levee_projection_position", "metrics_live") == runner.position > 0


async def test_a_runner_without_metrics_reports_nothing(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    await write_day(store)
    runner = await make_runner(batch_size=10, name="metrics_quiet")
    await runner.start()
    await runner.catch_up()
    assert gauge("levee_projection_lag_events", "metrics_quiet") is None
