"""Simulated department desks act through the real API: a dispatched case is signed for, then resolved."""

from __future__ import annotations

import asyncio

import aiohttp

from events.store import JetStreamEventStore
from services.drill.staff import StaffDesks, StaffPlan
from tests.integration.pages.harness import read_api


async def test_desks_sign_for_and_resolve_their_queue_through_the_api(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        waiting = str(harness.day.complaints["waiting"])  # dispatched to power, not yet accepted
        tokens = {"power": await harness.token("department:power")}
        base = str(harness.client.make_url("/"))
        plan = StaffPlan(accept_after=(0.0, 0.0), resolve_after=(0.0, 0.0), return_share=0.0)
        async with aiohttp.ClientSession() as session:
            desks = StaffDesks(session, base, tokens, plan, seed=1)
            async with asyncio.timeout(30):
                while True:
                    await desks.step()
                    await harness.project()
                    detail = await harness.get_json(f"/api/v1/complaints/{waiting}", "command")
                    if detail["status"] == "resolved":
                        break
                    await asyncio.sleep(0.05)
        assert desks.outcomes["accept:200"] >= 1
        assert desks.outcomes["resolve:200"] >= 1
        assert not [k for k in desks.outcomes if not k.endswith(":200")], desks.outcomes


async def test_a_share_of_cases_is_returned_with_a_reason(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        waiting = str(harness.day.complaints["waiting"])
        tokens = {"power": await harness.token("department:power")}
        plan = StaffPlan(accept_after=(0.0, 0.0), resolve_after=(0.0, 0.0), return_share=1.0)
        async with aiohttp.ClientSession() as session:
            desks = StaffDesks(session, str(harness.client.make_url("/")), tokens, plan, seed=1)
            await desks.step()
        await harness.project()
        detail = await harness.get_json(f"/api/v1/complaints/{waiting}", "command")
        assert detail["status"] == "returned"
        assert desks.outcomes["return:200"] == 1
