"""Fault injection during a typhoon drill: after each fault nothing acknowledged is lost or applied twice,
and the board equals a rebuild from zero (issue 6, item 3). Figures: docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import aiohttp
import pytest
from eventsourcing.utils import get_topic

from events.complaint import ComplaintReceived, PriorityAssessed
from events.incident import ComplaintAddedToIncident
from events.reference import load_reference
from events.store import Write
from events.store.aggregates import TOPIC, VERSION
from services.drill.runner import DrillReport, run_drill
from services.drill.scenario import load_scenario, submissions
from services.drill.staff import StaffDesks, StaffPlan
from tests.faults.audit import Figures, audit_read_models, audit_stream, unrecorded_misses
from tests.faults.system import SERVICES, System, until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

RATE, DURATION = 60.0, 12.0  # 720 complaints a scenario: enough to hit every fault mid-stream on 2 cores


async def drill_with(
    system: System, faults: Callable[[], Awaitable[None]], *, seed: int, rate: float = RATE,
    duration: float = DURATION,
) -> DrillReport:  # fmt: skip
    plan = submissions(load_scenario("typhoon"), seed=seed, rate=rate, duration=duration)
    drill = asyncio.create_task(run_drill(system.base_url, plan, operator_token=system.operator_token,
                                          concurrency=64, timeout=30.0))  # fmt: skip
    await faults()
    return await drill


async def check(
    system: System, figures: Figures, report: DrillReport, poison: frozenset[str] = frozenset(),
    *, watched_at: datetime | None = None,
) -> None:  # fmt: skip
    await system.settle()
    figures.sent = report.sent
    figures.statuses = {str(k): v for k, v in sorted(report.statuses.items())} | dict(report.errors)
    reference = load_reference(system.reference_file) if system.reference_file else None
    try:
        async with system.store() as store:
            await audit_stream(store, figures, report.accepted_ids, poison=poison, reference=reference,
                               watched_at=watched_at)  # fmt: skip
            await audit_read_models(store, system.postgres.dsn, figures, reference_file=system.reference_file)
    finally:
        figures.record()  # a failed scenario's figures too: they say what went wrong
    assert figures.created > 0
    assert figures.mismatches == []
    assert figures.read_models_equal_rebuild


async def test_nats_server_sigkilled_mid_drill_loses_no_acknowledged_complaint(system: System) -> None:
    figures, began = Figures("a: SIGKILL nats-server, restart it"), time.monotonic()

    async def faults() -> None:
        for at in (3.0, 8.0):
            await asyncio.sleep(at - (time.monotonic() - began))  # the fault's moment in the drill
            system.nats.kill()
            figures.faults.append(f"nats-server SIGKILL at {at:.0f}s")
            await asyncio.sleep(1.0)  # the outage
            await asyncio.to_thread(system.nats.start)

    report = await drill_with(system, faults, seed=101)
    await check(system, figures, report)


# Staff as the drill's desks play them, compressed: a case is signed for (or returned) within seconds.
QUICK_STAFF = StaffPlan(
    accept_after=(0.5, 4.0), resolve_after=(2.0, 8.0), return_share=0.15, extension_share=0.2,
    decide_after=(0.5, 3.0), follow_up_after=(1.0, 4.0), poll=0.5,
)  # fmt: skip
STAFF_TAIL = 10.0  # seconds the desks keep working after the last complaint


async def test_each_worker_and_the_projector_sigkilled_at_random_moments(
    system_with_short_deadlines: System,
) -> None:
    """With staff at work and deadlines of seconds: returns, re-dispatches, extensions, reopened cases and
    the deadline watcher's escalations all happen while the workers die under them."""
    system = system_with_short_deadlines
    figures = Figures("b: SIGKILL triage, dispatch, notices, projector; staff at work")
    rng = random.Random(202)
    victims = [name for name in SERVICES if name != "api"] * 2
    rng.shuffle(victims)

    async def faults() -> None:
        for name in victims:
            await asyncio.sleep(rng.uniform(1.0, 2.5))  # a random moment
            system.services[name].kill()
            figures.faults.append(f"{name} SIGKILL")

    async with aiohttp.ClientSession() as session:
        desks = await staff_desks(system, session, seed=202)
        stop = asyncio.Event()
        staff = asyncio.create_task(desks.run(stop))
        report = await drill_with(system, faults, seed=202)
        await asyncio.sleep(STAFF_TAIL)  # the desks' working time, not a wait on a condition
        stop.set()
        figures.staff = dict(sorted((await staff).items()))
    watched_at = datetime.now(UTC)
    # Missed deadlines keep coming after the drill; each one missed by `watched_at` must be recorded.
    await until("misses recorded", lambda: misses_recorded(system, watched_at), 60.0, every=1.0)
    assert {name: system.services[name].starts for name in set(victims)} == dict.fromkeys(set(victims), 3)
    await check(system, figures, report, watched_at=watched_at)
    for kind in ("accept:200", "return:200", "resolve:200", "extension_request:200"):
        assert figures.staff.get(kind, 0) > 0, kind
    for effect in (
        "ComplaintDispatched (after a return)",
        "ComplaintEscalated (missed deadline, by the watcher)",
    ):
        assert figures.effects.get(effect, 0) > 0, effect


async def staff_desks(system: System, session: aiohttp.ClientSession, *, seed: int) -> StaffDesks:
    """A desk per department, command's and the operator's, with tokens of their roles (as `levee drill
    --staff` mints them)."""
    departments = {d.code: await system.mint(f"department:{d.code}", f"{d.code} desk")
                   for d in load_reference().departments}  # fmt: skip
    command = await system.mint("command", "command desk")
    return StaffDesks(session, system.base_url, departments, QUICK_STAFF, seed=seed,
                      operator_token=system.operator_token, command_token=command)  # fmt: skip


async def misses_recorded(system: System, at: datetime) -> bool:
    """Whether every deadline missed by `at` has its watcher escalation in the stream."""
    async with system.store() as store:
        return await unrecorded_misses(store, load_reference(system.reference_file), at) == 0


async def test_postgres_restarted_mid_drill(system: System) -> None:
    figures = Figures("c: restart PostgreSQL")

    async def faults() -> None:
        await asyncio.sleep(4.0)  # the fault's moment in the drill
        await asyncio.to_thread(system.postgres.stop)
        figures.faults.append("PostgreSQL stopped at 4s")
        await asyncio.sleep(2.0)  # the outage
        await asyncio.to_thread(system.postgres.start)
        figures.faults.append("PostgreSQL started")

    report = await drill_with(system, faults, seed=303)
    await check(system, figures, report)


FLOOD = 3000


async def test_a_flood_from_one_address_is_throttled_and_others_still_get_in(system: System) -> None:
    figures = Figures("d: flood of 3,000 public requests from one address")
    plan = list(submissions(load_scenario("typhoon"), seed=404, rate=1000, duration=FLOOD / 1000 + 1))
    bodies = [{**item.body, "channel": "web"} for item in plan]
    for body in bodies:
        body.pop("media_exposure", None)
    url = system.base_url + "/api/v1/complaints"
    statuses: Counter[int] = Counter()
    retry_after: set[str] = set()
    accepted: list[str] = []

    async def post(session: aiohttp.ClientSession, body: dict[str, object], **headers: str) -> int:
        async with session.post(
            url, json=body, headers={"Idempotency-Key": str(uuid.uuid4()), **headers}
        ) as r:
            payload = await r.json(content_type=None)
            if r.status == 201:
                accepted.append(str(payload["id"]))
            elif r.status == 429:
                retry_after.add(r.headers.get("Retry-After", "missing"))
            return r.status

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as flooder:
        gate = asyncio.Semaphore(64)

        async def one(body: dict[str, object]) -> None:
            async with gate:
                statuses[await post(flooder, body)] += 1

        flood = asyncio.gather(*(one(bodies[i % len(bodies)]) for i in range(FLOOD)))
        # Meanwhile: another citizen (another loopback address) and the operator desk get in.
        neighbour = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=neighbour) as citizen, aiohttp.ClientSession() as desk:
            await until("flood throttled", lambda: _has(statuses, 429), 60.0, every=0.05)
            others = [await post(citizen, bodies[0]),
                      await post(desk, plan[1].body, Authorization=f"Bearer {system.operator_token}")]  # fmt: skip
            async with citizen.get(system.base_url + "/healthz") as health:
                healthy = health.status
        await flood
    figures.faults.append(
        f"flood statuses {dict(sorted(statuses.items()))}; Retry-After {sorted(retry_after)}"
    )
    assert others == [201, 201]
    assert healthy == 200
    assert statuses[429] > FLOOD * 0.9
    assert set(statuses) <= {201, 429}
    assert "missing" not in retry_after and all(int(value) >= 1 for value in retry_after)
    statuses.update(others)
    report = DrillReport(sent=FLOOD + len(others), statuses=statuses, accepted_ids=accepted)
    await check(system, figures, report)


async def _has(statuses: Counter[int], status: int) -> bool:
    return statuses[status] > 0


async def test_poison_events_are_dead_lettered_and_nothing_else_is_lost(system: System) -> None:
    figures = Figures("e: poison events for triage, dispatch and notices")
    poison = {worker: uuid.uuid4() for worker in ("triage", "dispatch", "notices")}
    topics = {"triage": ComplaintReceived, "dispatch": PriorityAssessed, "notices": ComplaintAddedToIncident}

    async def faults() -> None:
        await asyncio.sleep(3.0)  # mid-drill
        async with system.store() as store:
            await store.append([
                Write(store.spec.event_subject(poison[worker]), b"{undecodable",
                      {TOPIC: get_topic(topics[worker]), VERSION: "1"}, expected_last_seq=0)
                for worker in poison
            ])  # fmt: skip
        figures.faults.append("3 undecodable events appended at 3s")

    report = await drill_with(system, faults, seed=505)
    # Before the fix in UnitOfWork.prefetch and DeadlineWatcher.catch_up, a poison event crashed triage,
    # dispatch and notices on every restart: no service may have needed a second start.
    assert {name: service.starts for name, service in system.services.items()} == dict.fromkeys(SERVICES, 1)
    await check(system, figures, report, poison=frozenset(str(i) for i in poison.values()))
    assert figures.dead_letters == {"triage": 1, "dispatch": 1, "notices": 1}
