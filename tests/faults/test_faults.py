"""Fault injection during a typhoon drill: after each fault nothing acknowledged is lost or applied twice,
and the board equals a rebuild from zero (issue 6, item 3). Figures: docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import pytest
from eventsourcing.utils import get_topic

from events.complaint import ComplaintMovedToIncident, ComplaintReceived, PriorityAssessed
from events.incident import ComplaintAddedToIncident
from events.reference import load_reference
from events.store import JetStreamEventStore, Write
from events.store.aggregates import TOPIC, VERSION
from services.drill.runner import DrillReport, run_drill
from services.drill.scenario import load_scenario, submissions
from services.drill.staff import StaffDesks, StaffPlan
from services.runtime.redrive import SUCCEEDED
from services.runtime.redrive import dead_letter_facts as redrive_facts
from services.runtime.tracking import load_tracking
from tests.faults.audit import Figures, audit_read_models, audit_stream, records, unrecorded_misses
from tests.faults.conftest import NEW_CATEGORY, NEW_RELEASE
from tests.faults.desks import Desks
from tests.faults.system import SERVICES, System, until

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

RATE, DURATION = 60.0, 12.0  # 720 complaints a scenario: enough to hit every fault mid-stream on 2 cores


async def drill_with(
    system: System, faults: Callable[[], Awaitable[None]], *, seed: int, rate: float = RATE,
    duration: float = DURATION, retries: int = 0,
) -> DrillReport:  # fmt: skip
    plan = submissions(load_scenario("typhoon"), seed=seed, rate=rate, duration=duration)
    drill = asyncio.create_task(run_drill(system.base_url, plan, operator_token=system.operator_token,
                                          concurrency=64, timeout=30.0, retries=retries))  # fmt: skip
    await faults()
    return await drill


# An outage's 503s are sent again with their Idempotency-Key, as an app does (Retry-After, at most 2 s apart):
# enough tries to outlast every outage here, so each complaint ends stored, once, whatever answers were lost.
RETRIES = 30


def assert_every_complaint_got_in_after_retries(
    report: DrillReport, figures: Figures, back_at: float
) -> None:
    """Intake came back: every submission ended with a 201, some only on a retry, and some after the last
    outage ended; the stream holds exactly the complaints answered 201, each once (`check` audits the ids)."""
    assert report.given_up == 0 and dict(report.statuses) == {201: report.sent}, report.summary()
    assert sum(report.retried.values()) > 0, "no try was refused: the faults missed the drill"
    assert max(report.accepted_at) > back_at, f"no 201 after the outage ended at {back_at:.1f}s"
    assert figures.received_in_stream == figures.created == report.sent, figures


async def check(
    system: System, figures: Figures, report: DrillReport, poison: frozenset[str] = frozenset(),
    *, watched_at: datetime | None = None, bulk_accepted: Collection[tuple[str, str]] | None = None,
) -> None:  # fmt: skip
    await system.settle()
    figures.sent = report.sent
    figures.statuses = {str(k): v for k, v in sorted(report.statuses.items())} | dict(report.errors)
    figures.retried = dict(report.retried)
    figures.replayed = report.replayed
    reference = load_reference(system.reference_file) if system.reference_file else None
    try:
        async with system.store() as store:
            await audit_stream(store, figures, report.accepted_ids, poison=poison, reference=reference,
                               watched_at=watched_at, bulk_accepted=bulk_accepted)  # fmt: skip
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

    report = await drill_with(system, faults, seed=101, retries=RETRIES)
    await check(system, figures, report)
    assert_every_complaint_got_in_after_retries(report, figures, back_at=8.0 + 1.0)


# Staff as the drill's desks play them, compressed: a case is signed for (or returned) within seconds.
QUICK_STAFF = StaffPlan(
    accept_after=(0.5, 4.0), resolve_after=(2.0, 8.0), return_share=0.15, extension_share=0.2,
    decide_after=(0.5, 3.0), follow_up_after=(1.0, 4.0), poll=0.5,
)  # fmt: skip
STAFF_TAIL = 10.0  # seconds the desks keep working after the last complaint


# Command's and a department's own moves during (b), seconds into the drill: each merge takes the second-largest
# active incident into the largest (triage then moves its open complaints), each bulk accept signs for the
# cases of the incident with the most waiting in one department's queue.
COMMAND_MOVES = ((4.0, "merge"), (6.0, "bulk accept"), (8.0, "merge"), (10.0, "bulk accept"))


async def test_each_worker_and_the_projector_sigkilled_at_random_moments(
    system_with_short_deadlines: System,
) -> None:
    """With staff at work and deadlines of seconds: returns, re-dispatches, extensions, reopened cases and
    the deadline watcher's escalations all happen while the workers die under them; so do command's
    merges (triage is killed again at a random moment right after each) and a department's bulk accepts."""
    system = system_with_short_deadlines
    figures = Figures(
        "b: SIGKILL triage, dispatch, notices, projector; dispatch also stopped (SIGTERM); staff at work; merges, "
        "bulk accepts"
    )
    rng, moves = random.Random(202), random.Random(203)
    victims = [name for name in SERVICES if name != "api"] * 2 + ["dispatch"]
    rng.shuffle(victims)
    kills: Counter[str] = Counter()
    stopped = False  # dispatch stopped on request once: it shelves its deadline schedule, and starts from it

    def kill(name: str, when: str = "", sig: signal.Signals = signal.SIGKILL) -> bool:
        if system.services[name].kill(sig):  # not while it is between a death and its restart
            kills[name] += 1
            figures.faults.append(f"{name} {sig.name}{when}")
            return True
        return False

    async def watching() -> bool:
        """Dispatch's latest start has folded the stream (its watcher logged caught up since that start)."""
        service = system.services["dispatch"]
        log = service.log_path.read_text(encoding="utf-8")
        return (
            await service.running() and log.count('"event": "deadline_watcher_caught_up"') >= service.starts
        )

    async def faults() -> None:
        nonlocal stopped
        for name in victims:
            await asyncio.sleep(rng.uniform(1.0, 2.5))  # a random moment
            if name == "dispatch" and not stopped:
                await until(
                    "dispatch watching", watching, 30.0
                )  # a stop before its first fold shelves nothing
                stopped = kill(name, sig=signal.SIGTERM)
            else:
                kill(name)

    async def command_moves(desks: Desks) -> None:
        began = time.monotonic()
        for at, move in COMMAND_MOVES:
            await asyncio.sleep(max(0.0, at - (time.monotonic() - began)))  # the move's moment in the drill
            if move == "bulk accept":
                await desks.bulk_accept()
                continue
            async with system.store() as store:
                before = await store.last_sequence()
            answer = await desks.merge_largest("one event reported as two incidents (fault drill)")
            if answer is not None and answer["moving"]:
                await asyncio.sleep(moves.uniform(0.0, 0.3))  # a random moment of triage's moves
                kill("triage")
                # How far triage had got when it died: the figures say it, rather than assume it was moving them.
                moved = await moved_out_of(system, answer["absorbed"], after=before)
                figures.faults[-1] += (
                    f" {at:.0f}s+, {moved} of {answer['moving']} complaints of a merge moved"
                )

    async with aiohttp.ClientSession() as session:
        tokens = await desk_tokens(system)
        staff_desks = StaffDesks(session, system.base_url, tokens.departments, QUICK_STAFF, seed=202,
                                 operator_token=system.operator_token, command_token=tokens.command)  # fmt: skip
        desks = Desks(session, system.base_url, tokens.command, tokens.departments)
        stop = asyncio.Event()
        staff = asyncio.create_task(staff_desks.run(stop))

        async def faults_and_moves() -> None:
            await asyncio.gather(faults(), command_moves(desks))

        report = await drill_with(system, faults_and_moves, seed=202)
        await asyncio.sleep(STAFF_TAIL)  # the desks' working time, not a wait on a condition
        stop.set()
        figures.staff = dict(sorted((await staff).items()))
    figures.actions = dict(sorted(desks.tally.items()))
    watched_at = datetime.now(UTC)
    # Missed deadlines keep coming after the drill; each one missed by `watched_at` must be recorded.
    await until("misses recorded", lambda: misses_recorded(system, watched_at), 60.0, every=1.0)
    # Every start but the first is one of the kills: no service died of anything else.
    starts = {name: system.services[name].starts for name in kills}
    assert starts == {name: n + 1 for name, n in kills.items()}
    assert set(kills) == set(victims)
    await check(system, figures, report, watched_at=watched_at, bulk_accepted=desks.bulk_accepted)
    # Stopped on request, dispatch shelved its deadline schedule; started again, its watcher began from it (and
    # `check` found each missed deadline escalated once).
    assert stopped, "dispatch was never stopped on request"
    log = system.services["dispatch"].log_path.read_text(encoding="utf-8")
    assert '"event": "deadline_watcher_shelved"' in log and '"event": "deadline_watcher_restored"' in log
    for kind in ("accept:200", "return:200", "resolve:200", "extension_request:200"):
        assert figures.staff.get(kind, 0) > 0, kind
    for effect in (
        "ComplaintDispatched (after a return)",
        "ComplaintEscalated (missed deadline, by the watcher)",
        "IncidentMerged (by staff)",
        "ComplaintMovedToIncident",
    ):
        assert figures.effects.get(effect, 0) > 0, effect
    assert figures.actions.get("merge:200", 0) == 2
    assert any("complaints of a merge moved" in fault for fault in figures.faults), (
        figures.faults
    )  # killed after one
    assert desks.bulk_accepted, "no bulk accept signed for anything"
    assert figures.effects["DispatchAccepted (in bulk)"] == len(desks.bulk_accepted)


@dataclass(frozen=True)
class DeskTokens:
    departments: dict[str, str]
    command: str


async def desk_tokens(system: System) -> DeskTokens:
    """A token per department and command's, of their roles (as `levee drill --staff` mints them)."""
    departments = {d.code: await system.mint(f"department:{d.code}", f"{d.code} desk")
                   for d in load_reference().departments}  # fmt: skip
    return DeskTokens(departments, await system.mint("command", "command desk"))


async def moved_out_of(system: System, incident: str, *, after: int) -> int:
    """`ComplaintMovedToIncident` events out of `incident` stored after stream position `after`."""
    topic, hexed = get_topic(ComplaintMovedToIncident), incident.replace("-", "").encode()
    moved = 0
    async with system.store() as store:
        while messages := await store.read(after_seq=after, limit=1000):
            moved += sum(m.headers.get(TOPIC) == topic and (hexed in m.data or incident.encode() in m.data)
                         for m in messages)  # fmt: skip
            after = messages[-1].seq
    return moved


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

    report = await drill_with(system, faults, seed=303, retries=RETRIES)
    await check(system, figures, report)
    assert_every_complaint_got_in_after_retries(report, figures, back_at=4.0 + 2.0)


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


REDRIVES = 4  # complaints of a category triage does not know yet: each dead-lettered, then re-driven
KILL_AFTER_RETRY = (0.0, 0.25)  # seconds after the retry's 202: before, during or after its commit


async def test_dead_letters_redriven_while_triage_is_sigkilled_around_each_retry(
    system_with_triage_behind: System,
) -> None:
    """A release adds a category; triage still runs the old reference data and dead-letters each complaint of
    it. Command asks for a retry before the fix (it fails again: one new dead letter), the release is deployed
    to triage (restarted with the new files), and command re-drives each dead letter through the API while
    triage is SIGKILLed at a random moment around the retry's commit, once per round."""
    system = system_with_triage_behind
    figures = Figures("f: re-drive triage's dead letters, SIGKILL triage around each retry's commit")
    rng = random.Random(606)
    kills: Counter[str] = Counter()
    moments: Counter[str] = Counter()
    created: list[str] = []

    def kill_triage(why: str) -> bool:
        if not system.services["triage"].kill():
            return False
        kills["triage"] += 1
        figures.faults.append(f"triage SIGKILL {why}")
        return True

    async def redrive(desks: Desks, store: JetStreamEventStore, event: int, delay: float, why: str) -> None:
        """One round: once triage is up, ask, kill triage `delay` seconds after the answer, and wait (bounded)
        for the outcome."""
        await until("triage running", system.services["triage"].running, 60.0)
        status, answer = await desks.retry("triage", event)
        position = (
            answer["position"] if status == 202
            else (await redrive_facts(store, "triage", event)).requests[-1].seq
        )  # fmt: skip
        await asyncio.sleep(delay)  # a random moment around the retry's commit
        if kill_triage(f"{delay:.2f}s after asking to retry event {event} ({why})"):
            committed = (await load_tracking(store, "triage")).position >= position
            moments[
                "killed after the retry's commit" if committed else "killed before the retry's commit"
            ] += 1

        async def answered() -> bool:
            return (await load_tracking(store, "triage")).position >= position

        await until("retry answered", answered, 60.0, every=0.1)

    async def faults() -> None:
        async with aiohttp.ClientSession() as session, system.store() as store:
            desks = Desks(session, system.base_url, await system.mint("command", "command desk"), {})
            for n in range(REDRIVES):
                created.append(await new_category_complaint(desks, system.operator_token, n))
            figures.faults.append(f"{REDRIVES} complaints of category {NEW_CATEGORY!r} while triage lacks it")

            async def all_dead() -> bool:
                return len(await open_dead_letters(store, "triage")) == REDRIVES

            await until("dead-lettered", all_dead, 60.0, every=0.2)
            first = min(await open_dead_letters(store, "triage"))
            await redrive(desks, store, first, rng.uniform(0.3, 1.2), "the cause is still there")
            system.services["triage"].env.update({k: str(system.root / f) for k, f in NEW_RELEASE.items()})
            kill_triage("to deploy the release")
            for round_, event in enumerate(sorted(await open_dead_letters(store, "triage"))):
                delay = 0.0 if round_ == 0 else rng.uniform(*KILL_AFTER_RETRY)
                await redrive(desks, store, event, delay, "after the fix")
            figures.actions = dict(sorted((desks.tally + moments).items()))
            await until("triage running", system.services["triage"].running, 60.0)  # its last restart

    report = await drill_with(system, faults, seed=606, duration=8.0)
    report.sent += len(created)
    report.statuses[201] += len(created)
    report.accepted_ids += created
    assert {name: s.starts for name, s in system.services.items()} == {
        **dict.fromkeys(SERVICES, 1), "triage": kills["triage"] + 1}  # fmt: skip
    await check(system, figures, report)
    assert figures.dead_letters == {"triage": REDRIVES + 1, "dispatch": 0, "notices": 0}
    assert figures.effects["retry requests (triage)"] == REDRIVES + 1
    assert figures.effects["retries succeeded (triage)"] == REDRIVES
    assert figures.effects["retries dead-lettered again (triage)"] == 1
    assert moments["killed before the retry's commit"] > 0, figures.faults


async def new_category_complaint(desks: Desks, operator_token: str, n: int) -> str:
    """A hotline complaint of NEW_CATEGORY, far from the others (no cluster, no duplicate): its id."""
    body = {
        "channel": "hotline", "category": NEW_CATEGORY,
        "description": f"The pavement caved in outside building {n + 1}; a hole two metres wide, cars stopped",
        "location": {"lat": 22.56 + 0.05 * n, "lon": 113.90 + 0.06 * n},
        "reporter": {"name": f"Sinkhole caller {n}", "phone": f"1380013{n:04d}"},
    }  # fmt: skip
    status, answer, _ = await desks.ask("complaint", "POST", "/complaints", operator_token, body,
                                        **{"Idempotency-Key": f"faults-f-{uuid.uuid4()}"})  # fmt: skip
    assert status == 201, (status, answer)
    return str(answer["id"])


async def open_dead_letters(store: JetStreamEventStore, worker: str) -> set[int]:
    """The event positions the worker set aside and no retry has re-driven successfully."""
    retried = await records(store, store.spec.retried_subject(worker))
    done = {r.get("seq") for _, r in retried if r.get("outcome") == SUCCEEDED}
    return {int(r["seq"]) for _, r in await records(store, store.spec.dead_letter_subject(worker))} - done
