"""Re-driving a dead letter against a real nats-server: a retry request in the stream is handled by its worker
once, at its own position, whatever crashes, restarts or rival instances; one that fails again is a new
dead letter and the worker carries on; a request for nothing is ignored."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from events.store import JetStreamEventStore, Write
from events.store.aggregates import TOPIC, AggregateStore
from events.store.records import StoredMessage
from services.runtime import redrive
from services.runtime.tracking import load_tracking
from services.runtime.unit_of_work import UnitOfWork
from services.runtime.worker import Worker
from tests.integration.runtime.test_worker import drain, open_tally, seed, tally
from tests.support.toy import Counter, Tally, count_started, mapper

NOW = datetime(2025, 7, 1, 9, 30, tzinfo=UTC)


class Cause:
    """What makes the handler fail on some names, until the test fixes it (a release, a rules file)."""

    def __init__(self, *failing: str) -> None:
        self.failing = set(failing)

    async def handle(self, event: Counter.Started, uow: UnitOfWork) -> None:
        if event.name in self.failing:
            raise ValueError(f"cannot digest {event.name} yet")
        await count_started(event, uow)


def worker(store: JetStreamEventStore, cause: Cause, **options: object) -> Worker:
    return Worker(
        "toy", store, AggregateStore(store, mapper()), {Counter.Started: cause.handle},
        max_attempts=2, **options,  # type: ignore[arg-type]
    )  # fmt: skip


async def position_of(store: JetStreamEventStore, name: str) -> int:
    """Where the Counter called `name` started (not the tally's record of it)."""
    messages = await store.read(after_seq=0, limit=1000)
    [found] = [
        m
        for m in messages
        if m.headers.get(TOPIC, "").endswith("Counter.Started") and f'"{name}"'.encode() in m.data
    ]
    return found.seq


async def records(store: JetStreamEventStore, subject: str) -> list[tuple[StoredMessage, dict]]:
    return [(m, json.loads(m.data)) for m in await store.read_subject(subject)]


async def ask(store: JetStreamEventStore, event_position: int) -> redrive.RetryRequested:
    return await redrive.request_retry(store, "toy", event_position, by="test desk", at=NOW)


async def dead_lettered(store: JetStreamEventStore, cause: Cause, names: Sequence[str]) -> int:
    """Seed `names` and drain: the one the cause makes fail is set aside; its position."""
    await open_tally(store)
    await seed(store, list(names))
    await drain(worker(store, cause))
    [failing] = cause.failing
    return await position_of(store, failing)


async def test_a_dead_letter_retried_after_the_fix_is_applied_once_and_never_again(
    store: JetStreamEventStore,
) -> None:
    cause = Cause("flaky")
    flaky = await dead_lettered(store, cause, ["a", "flaky", "b"])
    assert sorted(await tally(store)) == ["a", "b"]
    [(dead, record)] = await records(store, store.spec.dead_letter_subject("toy"))
    assert record["seq"] == flaky and record["attempts"] == 2

    cause.failing.clear()  # the fix is deployed
    asked = await ask(store, flaky)
    assert (asked.event_position, asked.dead_letter_position) == (flaky, dead.seq)
    await seed(store, ["c"])
    await drain(worker(store, cause))

    assert sorted(await tally(store)) == ["a", "b", "c", "flaky"]
    [(_, outcome)] = await records(store, store.spec.retried_subject("toy"))
    assert outcome["outcome"] == "succeeded"
    assert (outcome["seq"], outcome["dead_letter_position"], outcome["retry_position"]) == (
        flaky, dead.seq, asked.position)  # fmt: skip
    with pytest.raises(redrive.RetryRefused) as refused:
        await ask(store, flaky)
    assert refused.value.code == "already_retried"

    restarted = worker(store, cause)  # restarted after the commit: the request is behind its position
    await drain(restarted)
    assert sorted(await tally(store)) == ["a", "b", "c", "flaky"]
    assert restarted.tracking.position > asked.position


async def test_a_retry_that_fails_again_is_a_new_dead_letter_and_the_worker_carries_on(
    store: JetStreamEventStore,
) -> None:
    cause = Cause("flaky")
    flaky = await dead_lettered(store, cause, ["a", "flaky"])
    asked = await ask(store, flaky)  # the cause is not fixed yet
    await seed(store, ["after"])
    await drain(worker(store, cause))

    assert sorted(await tally(store)) == ["a", "after"]
    first, again = await records(store, store.spec.dead_letter_subject("toy"))
    assert again[1]["seq"] == flaky and again[1]["attempts"] == 4
    assert (again[1]["retry_of"], again[1]["retry_position"]) == (first[0].seq, asked.position)
    assert await records(store, store.spec.retried_subject("toy")) == []

    cause.failing.clear()  # the newer dead letter is open: it can be retried
    second = await ask(store, flaky)
    assert second.dead_letter_position == again[0].seq
    await drain(worker(store, cause))
    assert sorted(await tally(store)) == ["a", "after", "flaky"]


async def test_a_request_for_an_event_never_dead_lettered_is_ignored(store: JetStreamEventStore) -> None:
    cause = Cause("flaky")
    await dead_lettered(store, cause, ["a", "flaky"])
    never = await position_of(store, "a")
    with pytest.raises(redrive.NoSuchDeadLetter):
        await ask(store, never)
    with pytest.raises(redrive.NoSuchDeadLetter):
        await redrive.request_retry(store, "toy.>", never, by="x", at=NOW)
    # Written around the API's checks, as a client with the NATS credentials could.
    subject = store.spec.retry_subject("toy")
    body = json.dumps({"event_position": never, "dead_letter_position": 1}).encode()
    [bypass, garbled] = await store.append([Write(subject, body), Write(subject, b"not json")])
    toy = worker(store, cause)
    await drain(toy)

    assert sorted(await tally(store)) == ["a"]
    outcomes = await records(store, store.spec.retried_subject("toy"))
    assert [(o["outcome"], o["retry_position"]) for _, o in outcomes] == [
        ("ignored", bypass), ("ignored", garbled)]  # fmt: skip
    assert outcomes[0][1]["reason"] == "not dead-lettered by this worker"
    assert toy.tracking.position == garbled


async def test_a_second_request_while_one_is_pending_is_refused(store: JetStreamEventStore) -> None:
    cause = Cause("flaky")
    flaky = await dead_lettered(store, cause, ["flaky"])
    cause.failing.clear()
    results = await asyncio.gather(ask(store, flaky), ask(store, flaky), return_exceptions=True)
    stored = [r for r in results if isinstance(r, redrive.RetryRequested)]
    refused = [r for r in results if isinstance(r, redrive.RetryRefused)]
    assert len(stored) == 1 and len(refused) == 1, results
    assert refused[0].code in ("retry_pending", "busy")
    with pytest.raises(redrive.RetryRefused) as pending:
        await ask(store, flaky)
    assert pending.value.code == "retry_pending"
    await drain(worker(store, cause))
    assert await tally(store) == ["flaky"]


@pytest.mark.parametrize("cache_types", [(), (Tally,)], ids=["loaded", "cached"])
async def test_two_instances_of_the_worker_apply_a_retry_once(
    store: JetStreamEventStore, cache_types: tuple[type, ...]
) -> None:
    cause = Cause("flaky")
    flaky = await dead_lettered(store, cause, ["a", "flaky"])
    cause.failing.clear()
    await ask(store, flaky)
    await seed(store, [f"n{n}" for n in range(30)])
    rivals = [worker(store, cause, batch_size=7, cache_types=cache_types) for _ in range(2)]
    await asyncio.gather(*(drain(w) for w in rivals))
    for rival in rivals:  # whichever stopped first may have been overtaken: let both finish
        await drain(rival)
    seen = await tally(store)
    assert len(seen) == len(set(seen)) == 32 and "flaky" in seen
    assert len(await records(store, store.spec.retried_subject("toy"))) == 1


class CrashBeforeCommit:
    """An appender that dies once, just before storing the retry's outcome: the process crashed there."""

    def __init__(self, store: JetStreamEventStore) -> None:
        self.store = store
        self.crashed = False

    async def append(self, writes: Sequence[Write]) -> list[int]:
        if not self.crashed and any(w.subject == self.store.spec.retried_subject("toy") for w in writes):
            self.crashed = True
            raise RuntimeError("killed before the commit")
        return await self.store.append(writes)


async def test_a_worker_killed_before_the_retry_commits_redoes_it_once(store: JetStreamEventStore) -> None:
    cause = Cause("flaky")
    flaky = await dead_lettered(store, cause, ["a", "flaky"])
    cause.failing.clear()
    asked = await ask(store, flaky)
    crashing = worker(store, cause, appender=CrashBeforeCommit(store), cache_types=(Tally,))
    with pytest.raises(RuntimeError, match="killed"):
        await drain(crashing)
    assert sorted(await tally(store)) == ["a"]
    assert (await load_tracking(store, "toy")).position < asked.position

    await drain(worker(store, cause))  # the restart finds the request ahead of its position
    await drain(worker(store, cause))  # and a second restart, after the commit, finds nothing to do
    assert sorted(await tally(store)) == ["a", "flaky"]
    assert (await load_tracking(store, "toy")).position >= asked.position


async def test_a_retry_request_that_went_around_the_api_after_a_success_is_ignored(
    store: JetStreamEventStore,
) -> None:
    """The API refuses a second retry of an event re-driven successfully; the worker checks it again itself, as a
    request on the subject from elsewhere (a CLI of an older version, a replayed backup) must not apply the event
    twice. Found by a mutation audit: with the worker's own check removed, every test still passed."""
    cause = Cause("flaky")
    flaky = await dead_lettered(store, cause, ["a", "flaky"])
    cause.failing.clear()
    asked = await ask(store, flaky)
    await drain(worker(store, cause))
    body = json.dumps({"event_position": flaky, "dead_letter_position": asked.dead_letter_position}).encode()
    await store.append([Write(store.spec.retry_subject("toy"), body)])  # around the API's checks
    await drain(worker(store, cause))
    assert sorted(await tally(store)) == ["a", "flaky"]  # applied once
    outcomes = [o["outcome"] for _, o in await records(store, store.spec.retried_subject("toy"))]
    assert outcomes == ["succeeded", "ignored"]
