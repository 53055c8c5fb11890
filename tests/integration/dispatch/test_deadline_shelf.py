"""A restarted deadline watcher starts from the schedule it shelved and folds only what came after, escalating
every missed deadline once as before; a shelf it cannot trust (other deadline lengths, torn) is not used."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import Any
from uuid import UUID

import nats.errors
import pytest
from nats.js.api import DiscardPolicy
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from events.complaint import Complaint
from events.mapper import make_mapper
from events.reference import Reference, load_reference
from events.store import JetStreamEventStore, StoreUnavailable
from events.store import shelf as shelf_module
from events.store.aggregates import AggregateStore
from events.store.shelf import Shelf, bucket_config, bucket_name
from services.dispatch.app import SHELF_OWNER, build, open_shelf
from services.dispatch.deadlines import WATCHER, DeadlineWatcher
from tests.integration.dispatch.test_dispatch_service import (
    FakeClock,
    drain,
    escalations,
    new_complaint,
)
from tests.support.reads import ReadsCounted


async def a_varied_stream(store: JetStreamEventStore, clock: FakeClock) -> list[UUID]:
    """Complaints in every state the schedule keeps: waiting for sign-for, signed for, resolved (dormant)."""
    repository = AggregateStore(store, make_mapper())
    ids = [await new_complaint(repository, clock, level=level) for level in ("P1", "P2", "P2", "P1")]
    worker, _ = build(store, clock=clock)
    await drain(worker)  # dispatched: the P1s also escalated to command at once
    accepted = await repository.get(ids[1], Complaint)
    accepted.accept(accepted.department)
    resolved = await repository.get(ids[2], Complaint)
    resolved.accept(resolved.department)
    resolved.resolve(resolved.department, "Pumped out.")
    await repository.save(accepted, resolved)
    return ids


def watcher(store: JetStreamEventStore, clock: FakeClock, shelf: Shelf | None,
            reference: Reference | None = None) -> DeadlineWatcher:  # fmt: skip
    return DeadlineWatcher(store, AggregateStore(store, make_mapper()), clock=clock, shelf=shelf,
                           reference=reference)  # fmt: skip


async def test_a_restart_folds_only_what_came_after_the_shelf_and_escalates_once(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    ids = await a_varied_stream(store, clock)
    first = watcher(store, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER))
    assert await first.tick() == 0
    await first.shelve()
    shelved_at = first.position
    later = await new_complaint(AggregateStore(store, make_mapper()), clock)  # written after the shelf

    counted = ReadsCounted(store)
    with capture_logs() as logs:
        restarted = watcher(counted, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER))
        assert await restarted.tick() == 0
    assert counted.started_after[0] == shelved_at, "read from the shelf's position, not from the start"
    assert [line["position"] for line in logs if line["event"] == "deadline_watcher_restored"] == [shelved_at]

    from_start = watcher(store, clock, None)
    await from_start.tick()
    assert restarted.position == from_start.position
    assert restarted.schedule == from_start.schedule and set(restarted.schedule) == {
        ids[0],
        ids[1],
        ids[3],
        later,
    }
    assert restarted.dormant == from_start.dormant and ids[2] in restarted.dormant

    clock.move_to(timedelta(days=2))  # every open deadline missed
    assert (
        await restarted.tick() == 4
    )  # accept-by of the three never signed for, resolve-by of the one signed for
    assert await from_start.tick() == 0 and await restarted.tick() == 0
    repository = AggregateStore(store, make_mapper())
    for complaint_id in (ids[0], ids[1], ids[3], later):
        assert [by for _, by in await escalations(repository, complaint_id) if by == WATCHER] == [WATCHER]
    assert await escalations(repository, ids[2]) == []  # resolved in time: nothing to record


async def test_a_watcher_stopped_on_request_shelves_where_it_stopped(store: JetStreamEventStore) -> None:
    clock = FakeClock()
    await a_varied_stream(store, clock)
    shelf = await Shelf.open(store.nc, store.spec, SHELF_OWNER)
    running_watcher = watcher(store, clock, shelf)
    stop = asyncio.Event()
    running = asyncio.ensure_future(running_watcher.run(stop, interval=0.05))
    async with asyncio.timeout(10):
        while running_watcher.position < await store.last_sequence():
            await asyncio.sleep(0.02)
        stop.set()
        await running
    shelved = await shelf.get()
    assert shelved is not None and shelved.meta["position"] == running_watcher.position


async def test_a_shelf_written_under_other_deadline_lengths_is_not_used(store: JetStreamEventStore) -> None:
    clock = FakeClock()
    await a_varied_stream(store, clock)
    first = watcher(store, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER))
    await first.tick()
    await first.shelve()

    reference = load_reference()
    longer = tuple(
        dataclasses.replace(d, resolve_within_minutes=d.resolve_within_minutes * 3) for d in reference.levels
    )
    new_lengths = dataclasses.replace(reference, levels=longer)
    counted = ReadsCounted(store)
    with capture_logs() as logs:
        restarted = watcher(counted, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER), new_lengths)
        await restarted.tick()
    assert counted.started_after[0] == 0
    assert any(line["event"] == "deadline_watcher_folds_from_start" for line in logs)
    from_start = watcher(store, clock, None, new_lengths)
    await from_start.tick()
    assert restarted.schedule == from_start.schedule != first.schedule


async def test_a_torn_shelf_is_not_used_and_a_half_written_one_leaves_the_last_whole(
    store: JetStreamEventStore,
) -> None:
    clock = FakeClock()
    await a_varied_stream(store, clock)
    shelf = await Shelf.open(store.nc, store.spec, SHELF_OWNER, chunk_bytes=64)  # several chunks
    first = watcher(store, clock, shelf)
    await first.tick()
    await first.shelve()
    whole = await shelf.get()
    assert whole is not None and whole.meta["position"] == first.position

    # A second shelving stopped before its head was written: the first is still what a restart finds.
    await new_complaint(AggregateStore(store, make_mapper()), clock)
    await first.tick()
    put = shelf.kv.put

    async def head_never_written(key: str, value: bytes, **kwargs: Any) -> int:
        if key.endswith(".head"):
            raise nats.errors.TimeoutError
        return await put(key, value, **kwargs)

    shelf.kv.put = head_never_written  # type: ignore[method-assign]
    failures = REGISTRY.get_sample_value("levee_deadline_watcher_shelving_failures_total") or 0
    with capture_logs() as logs:
        await first.shelve()
    assert any(line["event"] == "deadline_watcher_not_shelved" for line in logs)
    # Counted, for the alert (deploy/prometheus: LeveeDeadlineShelvingFailing).
    assert REGISTRY.get_sample_value("levee_deadline_watcher_shelving_failures_total") == failures + 1
    assert await shelf.get() == whole

    # A chunk of the shelf in use overwritten: its checksum refuses it, and the restart folds from the start.
    shelf.kv.put = put  # type: ignore[method-assign]
    head = await shelf.kv.get(f"{SHELF_OWNER}.head")
    slot = head.value.decode().split('"slot": "')[1][0]
    await shelf.kv.put(f"{SHELF_OWNER}.{slot}.0", b"x" * 64)
    counted = ReadsCounted(store)
    with capture_logs() as logs:
        restarted = watcher(counted, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER))
        await restarted.tick()
    assert counted.started_after[0] == 0
    assert [line["why"] for line in logs if line["event"] == "shelf_torn"] == ["the checksum does not match"]
    from_start = watcher(store, clock, None)
    await from_start.tick()
    assert restarted.schedule == from_start.schedule


@pytest.mark.parametrize("ahead", [True, False], ids=["past the stream's end", "another message there"])
async def test_a_shelf_the_stream_no_longer_matches_is_not_used(
    store: JetStreamEventStore, ahead: bool
) -> None:
    """The stream restored from an older copy while the shelf was not (found by a review): a shelf ahead of the
    stream would leave the complaints written since unwatched, so one whose last message the stream does not
    hold at that position is not used."""
    clock = FakeClock()
    await a_varied_stream(store, clock)
    shelf = await Shelf.open(store.nc, store.spec, SHELF_OWNER)
    first = watcher(store, clock, shelf)
    await first.tick()
    await first.shelve()
    shelved = await shelf.get()
    assert shelved is not None
    meta = dict(shelved.meta)
    if ahead:
        meta["position"] += 100
    else:
        meta["position"] -= 1  # a message is there, but not the one folded to
    await shelf.put(shelved.data, meta)

    counted = ReadsCounted(store)
    with capture_logs() as logs:
        restarted = watcher(counted, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER))
        await restarted.tick()
    assert counted.started_after[0] == 0
    assert "no longer holds" in next(
        line["why"] for line in logs if line["event"] == "deadline_watcher_folds_from_start"
    )
    assert restarted.schedule == first.schedule


async def test_a_shelf_that_does_not_answer_is_given_up_and_the_watcher_folds(
    store: JetStreamEventStore,
) -> None:
    """The stream answers but the shelf does not (its permission missing, its stream on other peers): the watcher
    must not wait for it for ever (found by a review: it never started)."""
    clock = FakeClock()
    await a_varied_stream(store, clock)
    shelf = await Shelf.open(store.nc, store.spec, SHELF_OWNER)

    async def not_answering() -> None:
        raise StoreUnavailable("reading the shelf of dispatch.deadlines: TimeoutError")

    shelf.get = not_answering  # type: ignore[method-assign,assignment]
    blind = watcher(store, clock, shelf)
    for _ in range(shelf_module.READ_TRIES - 1):
        with pytest.raises(StoreUnavailable):
            await blind.tick()
    with capture_logs() as logs:
        await blind.tick()
    assert [line["why"] for line in logs if line["event"] == "deadline_watcher_folds_from_start"] == [
        "the shelf does not answer"
    ]
    from_start = watcher(store, clock, None)
    await from_start.tick()
    assert blind.schedule == from_start.schedule and blind.position == from_start.position


async def test_a_bucket_made_with_another_config_is_used_as_it_is(store: JetStreamEventStore) -> None:
    """Made by an older version, or before the stream's replicas changed: refusing it turned the shelf off."""
    config = bucket_config(bucket_name(store.spec), replicas=1)
    await store.nc.jetstream().add_stream(dataclasses.replace(config, max_msg_size=4096))
    shelf = await Shelf.open(store.nc, store.spec, SHELF_OWNER, chunk_bytes=4096)
    await shelf.put(b"x" * 10_000, {"position": 1})
    shelved = await shelf.get()
    assert shelved is not None and shelved.data == b"x" * 10_000


async def test_a_bucket_whose_config_lets_a_message_wipe_others_is_not_used(
    store: JetStreamEventStore,
) -> None:
    """A bucket made by someone else with rollups (as nats-py's create_key_value makes one) would let any writer
    of one key wipe the shelf: dispatch runs without a shelf and says why."""
    await store.nc.jetstream().create_key_value(bucket=bucket_name(store.spec), history=1)
    with capture_logs() as logs:
        assert await open_shelf(store.nc, store.spec) is None
    [refused] = [line for line in logs if line["event"] == "shelf_unavailable"]
    assert "allows rollups" in refused["error"]


async def test_an_outage_in_the_middle_of_a_restore_leaves_it_to_the_next_tick(
    store: JetStreamEventStore,
) -> None:
    """NATS gone while the restore checked the stream: the next tick restored nothing and folded from 0 without
    saying so (found by a review). It now reads the shelf again."""
    clock = FakeClock()
    await a_varied_stream(store, clock)
    first = watcher(store, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER))
    await first.tick()
    await first.shelve()
    counted = ReadsCounted(store)
    message_at, calls = counted.message_at, 0

    async def gone_once(seq: int) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreUnavailable("NATS went away mid-restore")
        return await message_at(seq)

    counted.message_at = gone_once  # type: ignore[method-assign]
    restarted = watcher(counted, clock, await Shelf.open(store.nc, store.spec, SHELF_OWNER))
    with pytest.raises(StoreUnavailable):
        await restarted.tick()
    with capture_logs() as logs:
        await restarted.tick()
    assert counted.started_after[0] == first.position
    assert [line["position"] for line in logs if line["event"] == "deadline_watcher_restored"] == [
        first.position
    ]


@pytest.mark.parametrize(
    "limits",
    [
        {"max_msgs": 3, "discard": DiscardPolicy.OLD},
        {"max_age": 1.0, "duplicate_window": 1.0},
        {"max_bytes": 4096},
    ],
    ids=["few messages, oldest dropped", "an age", "few bytes"],
)
async def test_a_bucket_whose_limits_would_drop_a_shelf_for_anothers_writes_is_not_used(
    store: JetStreamEventStore, limits: dict[str, Any]
) -> None:
    """Made first by notices (which may make the bucket) with limits, its writes of its own keys could push
    dispatch's out, or the shelf age away (found by a review)."""
    config = bucket_config(bucket_name(store.spec), replicas=1)
    await store.nc.jetstream().add_stream(dataclasses.replace(config, **limits))
    with capture_logs() as logs:
        assert await open_shelf(store.nc, store.spec) is None
    [refused] = [line for line in logs if line["event"] == "shelf_unavailable"]
    assert "limits" in refused["error"]


async def test_a_shelf_nats_did_not_open_at_the_start_is_opened_at_its_first_use(
    store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A JetStream election at dispatch's start (opening the bucket timed out) left the watcher without a shelf
    until its next restart, which then folded the whole stream (the last note's "left"). The restore and the
    shelvings now open it when it answers."""
    clock = FakeClock()
    await a_varied_stream(store, clock)
    open_bucket, calls = shelf_module._open_bucket, 0

    async def election_at_start(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreUnavailable("shelf bucket: TimeoutError")
        return await open_bucket(*args)

    monkeypatch.setattr(shelf_module, "_open_bucket", election_at_start)
    with capture_logs() as logs:
        shelf = await open_shelf(store.nc, store.spec)
    assert shelf is not None and [line["event"] for line in logs if "shelf" in line["event"]] == [
        "shelf_not_opened"
    ]
    first = watcher(store, clock, shelf)
    assert await first.tick() == 0  # the restore opened it: nothing shelved yet, folded from the start
    await first.shelve()
    assert calls == 2

    counted = ReadsCounted(store)
    with capture_logs() as logs:
        restarted = watcher(counted, clock, await open_shelf(store.nc, store.spec))
        await restarted.tick()
    assert counted.started_after[0] == first.position
    assert [line["position"] for line in logs if line["event"] == "deadline_watcher_restored"] == [
        first.position
    ]


async def test_a_shelf_that_keeps_not_opening_is_asked_again_only_after_a_while(
    store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NATS never answering the open (credentials from before shelves look the same): the restore asks READ_TRIES
    times, then the watcher folds from the start; its shelvings fail at once (counted) without waiting on NATS
    each minute, and the open is tried again once OPEN_RETRY_SECONDS passed."""
    clock = FakeClock()
    await a_varied_stream(store, clock)
    calls = 0

    async def never(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        raise StoreUnavailable("shelf bucket: TimeoutError")

    monkeypatch.setattr(shelf_module, "_open_bucket", never)
    lazy = Shelf.later(store.nc, store.spec, SHELF_OWNER)
    late = watcher(store, clock, lazy)
    for _ in range(shelf_module.READ_TRIES - 1):
        with pytest.raises(StoreUnavailable):
            await late.tick()
    with capture_logs() as logs:
        await late.tick()
    assert [line["why"] for line in logs if line["event"] == "deadline_watcher_folds_from_start"] == [
        "the shelf does not answer"
    ]
    failures = REGISTRY.get_sample_value("levee_deadline_watcher_shelving_failures_total") or 0.0
    await late.shelve()
    await late.shelve()
    assert calls == shelf_module.READ_TRIES, "not asked again before OPEN_RETRY_SECONDS"
    assert REGISTRY.get_sample_value("levee_deadline_watcher_shelving_failures_total") == failures + 2

    monkeypatch.setattr(lazy, "_next_open", 0.0)  # the while has passed
    await late.shelve()
    assert calls == shelf_module.READ_TRIES + 1
