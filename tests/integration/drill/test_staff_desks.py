"""Simulated staff act through the real API: desks sign for, return, note, ask for time and resolve; command
re-dispatches what lands in its queue and decides extension requests; the operator's follow-up calls reopen what
did not satisfy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import aiohttp
import pytest

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


async def _in_the_command_queue(repository: AggregateStore) -> UUID:
    """A flooding case both drainage and roads returned (Riverside's candidates are drainage, roads, civil
    affairs): the dispatch worker sends it to the command queue."""
    complaint_id = await _dispatched_flooding(repository)
    complaint = await repository.get(complaint_id, Complaint)
    complaint.return_dispatch("drainage", "Not a blocked drain")
    complaint.dispatch("roads", by="dispatch-rules", reason="candidate 2")
    complaint.return_dispatch("roads", "No road is affected")
    await repository.save(complaint)
    return complaint_id


def _dispatches(detail: dict[str, Any]) -> list[str]:
    return [e["department"] for e in detail["timeline"] if e["kind"] == "ComplaintDispatched"]


async def test_command_re_dispatches_a_command_queue_case_and_that_department_takes_it_up(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        case = str(await _in_the_command_queue(AggregateStore(store, make_mapper())))
        router, _ = build_dispatch(store)
        await router.start()
        codes = ("drainage", "roads", "civil_affairs")
        tokens = {code: await harness.token(f"department:{code}") for code in codes}
        plan = StaffPlan(accept_after=(0.0, 0.0), resolve_after=(60.0, 60.0), return_share=0.0,
                         command_dispatch_after=(0.0, 0.0))  # fmt: skip
        async with aiohttp.ClientSession() as session:
            desks = StaffDesks(session, str(harness.client.make_url("/")), tokens, plan, seed=1,
                               command_token=await harness.token("command"))  # fmt: skip
            async with asyncio.timeout(30):
                while True:
                    while await router.process_batch():
                        pass
                    await harness.project()
                    await desks.step()
                    detail = await harness.get_json(f"/api/v1/complaints/{case}", "command")
                    if detail["status"] == "accepted":
                        break
                    await asyncio.sleep(0.05)
    # Before: nobody played command, so the case waited in the command queue for ever.
    assert _dispatches(detail) == ["drainage", "roads", "command", "civil_affairs"]
    assert detail["department"] == "civil_affairs"
    assert desks.outcomes["command_dispatch:200"] == 1 and desks.outcomes["accept:200"] == 1
    assert not [k for k in desks.outcomes if not k.endswith(":200")], desks.outcomes


async def test_command_never_sends_a_case_back_to_a_department_that_returned_it(
    store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        case = str(await _dispatched_flooding(AggregateStore(store, make_mapper())))
        router, _ = build_dispatch(store)
        await router.start()
        codes = ("drainage", "roads", "civil_affairs", "hotline_office")
        tokens = {code: await harness.token(f"department:{code}") for code in codes}
        # Every department returns whatever it gets: command runs out of departments and leaves the case.
        plan = StaffPlan(accept_after=(0.0, 0.0), return_share=1.0, command_dispatch_after=(0.0, 0.0))
        async with aiohttp.ClientSession() as session:
            desks = StaffDesks(session, str(harness.client.make_url("/")), tokens, plan, seed=1,
                               command_token=await harness.token("command"))  # fmt: skip
            async with asyncio.timeout(30):
                while not desks.outcomes["command_dispatch:no_department_left"]:
                    while await router.process_batch():
                        pass
                    await harness.project()
                    await desks.step()
                    await asyncio.sleep(0.05)
            await harness.project()
            detail = await harness.get_json(f"/api/v1/complaints/{case}", "command")
    returns = [e["department"] for e in detail["timeline"] if e["kind"] == "DispatchReturned"]
    assert returns == ["drainage", "roads", "civil_affairs", "hotline_office"]
    assert _dispatches(detail) == [
        "drainage", "roads", "command", "civil_affairs", "command", "hotline_office", "command"
    ]  # fmt: skip
    assert detail["department"] == "command" and detail["status"] == "dispatched"
    assert desks.outcomes["command_dispatch:200"] == 2
    assert not [k for k in desks.outcomes if k.startswith("command_dispatch:4")], desks.outcomes


@pytest.mark.parametrize(("grant_share", "decision"), [(1.0, "ExtensionGranted"), (0.0, "ExtensionDenied")])
async def test_command_answers_a_pending_extension_request_once(
    grant_share: float, decision: str, store: JetStreamEventStore, nats_url: str, database_url: str
) -> None:
    async with read_api(store, nats_url, database_url) as harness:
        handling = str(harness.day.complaints["handling"])  # accepted by drainage
        asked = await harness.client.post(
            f"/api/v1/complaints/{handling}/extension-requests", json={"minutes": 90, "reason": "Pump broke"},
            headers=await harness.headers("department:drainage"),
        )  # fmt: skip
        assert asked.status == 200, await asked.text()
        await harness.project()
        plan = StaffPlan(decide_after=(0.0, 0.0), grant_share=grant_share)
        async with aiohttp.ClientSession() as session:
            # A command desk alone: the request is a person's, not one of the drill's desks'.
            desks = StaffDesks(session, str(harness.client.make_url("/")), {}, plan, seed=1,
                               command_token=await harness.token("command"))  # fmt: skip
            async with asyncio.timeout(30):
                while (await harness.get_json(f"/api/v1/complaints/{handling}", "command"))[
                    "extension_pending"
                ]:
                    await desks.step()
                    await harness.project()
                    await asyncio.sleep(0.05)
            for _ in range(3):  # it looks again: nothing left to decide
                await desks.step()
                await harness.project()
        detail = await harness.get_json(f"/api/v1/complaints/{handling}", "command")
    kind = "extension_grant" if grant_share else "extension_deny"
    assert dict(desks.outcomes) == {f"{kind}:200": 1}
    [answer] = [e for e in detail["timeline"] if e["kind"] in ("ExtensionGranted", "ExtensionDenied")]
    assert answer["kind"] == decision
    if decision == "ExtensionGranted":
        assert answer["detail"]["minutes"] == 90  # what the department asked for
