"""Simulated staff act through the real API: desks sign for, return, note, ask for time and resolve; command
decides; the operator's follow-up calls reopen what did not satisfy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import aiohttp

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.dispatch.app import build as build_dispatch
from services.drill.staff import StaffDesks, StaffPlan
from tests.integration.pages.harness import flood_report, read_api
from tests.integration.projections.day import FACTORS


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


async def _dispatched_flooding(repository: AggregateStore) -> UUID:
    """A P2 flooding complaint dispatched to drainage; its other candidates are roads, then civil affairs."""
    complaint = Complaint.receive(
        channel="hotline", description="Water in the underpass", received_by="operator-chen",
        category="flooding", lat=22.70, lon=113.80,
    )  # fmt: skip
    complaint.validate()
    now = datetime.now(UTC)
    complaint.assess_priority(60, "P2", FACTORS, now + timedelta(hours=1), now + timedelta(days=1))
    complaint.dispatch("drainage", by="dispatch-rules", reason="category route")
    await repository.save(complaint)
    return complaint.id


async def test_the_next_department_acts_on_a_returned_case_and_a_second_return_sends_it_to_command(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        case = str(await _dispatched_flooding(AggregateStore(store, make_mapper())))
        router, _ = build_dispatch(store)  # the real dispatch worker re-dispatches each return
        await router.start()
        codes = ("drainage", "roads", "civil_affairs")
        tokens = {code: await harness.token(f"department:{code}") for code in codes}
        plan = StaffPlan(accept_after=(0.0, 0.0), resolve_after=(60.0, 60.0), return_share=1.0)
        async with aiohttp.ClientSession() as session:
            desks = StaffDesks(session, str(harness.client.make_url("/")), tokens, plan, seed=1)
            async with asyncio.timeout(30):
                while True:
                    await desks.step()
                    while await router.process_batch():
                        pass
                    await harness.project()
                    detail = await harness.get_json(f"/api/v1/complaints/{case}", "command")
                    if detail["department"] == "command":
                        break
                    await asyncio.sleep(0.05)
        # Before: one sign-for per case, so roads never acted on what drainage returned.
        returns = [e["department"] for e in detail["timeline"] if e["kind"] == "DispatchReturned"]
        assert returns == ["drainage", "roads"]
        assert detail["status"] == "dispatched"


async def test_desks_note_progress_ask_for_time_and_an_unhappy_follow_up_reopens_the_case(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        waiting = str(harness.day.complaints["waiting"])  # dispatched to power, not yet accepted
        await harness.submit(flood_report())  # intake creates the complainants' key table a public note reads
        tokens = {"power": await harness.token("department:power")}
        # Asked for time 0.15-0.4 s in: command decides at once, and the resolution waits for the decision.
        plan = StaffPlan(
            accept_after=(0.0, 0.0), resolve_after=(0.5, 0.5), return_share=0.0, note_share=1.0,
            public_note_share=1.0, extension_share=1.0, grant_share=1.0, decide_after=(0.0, 0.0),
            follow_up_after=(0.0, 0.0), follow_ups=(("not_satisfied", 1.0),),
        )  # fmt: skip
        async with aiohttp.ClientSession() as session:
            desks = StaffDesks(
                session, str(harness.client.make_url("/")), tokens, plan, seed=1,
                operator_token=await harness.token("operator"), command_token=await harness.token("command"),
            )  # fmt: skip
            async with asyncio.timeout(30):
                while desks.outcomes["resolve:200"] < 2:  # resolved, reopened by the call, resolved again
                    await desks.step()
                    await harness.project()
                    await asyncio.sleep(0.05)
        await harness.project()
        detail = await harness.get_json(f"/api/v1/complaints/{waiting}", "command")
    assert desks.outcomes["progress_public:200"] >= 1, desks.outcomes
    assert desks.outcomes["extension_request:200"] >= 1
    assert desks.outcomes["extension_grant:200"] >= 1
    assert desks.outcomes["follow_up_not_satisfied:200"] >= 1
    kinds = {e["kind"] for e in detail["timeline"]}
    assert {"ProgressNoted", "ExtensionRequested", "FollowUpRecorded", "ComplaintReopened"} <= kinds, kinds
