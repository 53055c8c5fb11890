"""An append whose answer is lost: stored means read back whole, and the process's WriteHealth hears of it.

The answer is lost on purpose here (the publish happens, or does not, and then the reply "times out"): a real
nats-server, no stand-in for it. The half-readable batch a full store leaves is in test_store_full.py.
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
import structlog
from nats.aio.client import Client as NATS
from structlog.testing import capture_logs

from events.store import JetStreamEventStore, StoreUnavailable, Write, WriteUnconfirmed
from events.store.group_commit import GroupCommitter
from events.store.stream import StreamSpec
from events.store.write_health import WriteHealth


class LostAnswer(JetStreamEventStore):
    """Publishes for real the first `published` writes (all of them by default) under the write's id, then
    behaves as if the answer never came."""

    published: int | None = None

    async def _publish_batch(self, batch_id: str, writes: Sequence[Write]) -> dict[str, Any]:
        if self.published != 0:
            await super()._publish_batch(batch_id, writes[: self.published])
        raise TimeoutError


def lost_answers(nc: NATS, spec: StreamSpec, published: int | None = None) -> tuple[LostAnswer, WriteHealth]:
    """A store whose answers are lost (after publishing `published` writes of each), and its WriteHealth."""
    health = WriteHealth()
    lost = LostAnswer(nc, spec, health=health)
    lost.published = published
    return lost, health


def writes(spec: StreamSpec, n: int) -> list[Write]:
    return [Write(spec.event_subject(uuid.uuid4()), f"m{k}".encode(), expected_last_seq=0) for k in range(n)]


@pytest.mark.parametrize("size", [1, 3])
async def test_a_stored_write_whose_answer_was_lost_is_confirmed_by_reading_it_back(
    nc: NATS, store: JetStreamEventStore, size: int
) -> None:
    lost, health = lost_answers(nc, store.spec)
    batch = writes(store.spec, size)
    positions = await lost.append(batch)
    stored = [await store.message_at(p) for p in positions]
    assert [m.subject if m else None for m in stored] == [w.subject for w in batch]
    assert health.problem() is None


@pytest.mark.parametrize("size", [1, 3])
async def test_a_write_never_stored_is_unconfirmed_and_noted(
    nc: NATS, store: JetStreamEventStore, size: int
) -> None:
    lost, health = lost_answers(nc, store.spec, published=0)
    batch = writes(store.spec, size)
    with pytest.raises(WriteUnconfirmed, match="not in the stream"):
        await lost.append(batch)
    assert [await store.last_message(w.subject) for w in batch] == [None] * size
    problem = health.problem()
    assert problem is not None and "unconfirmed" in problem


async def test_a_batch_read_back_in_part_is_unconfirmed_never_stored(
    nc: NATS, store: JetStreamEventStore
) -> None:
    lost, health = lost_answers(nc, store.spec, published=1)  # the first write is stored, the other two not
    batch = writes(store.spec, 3)
    with pytest.raises(WriteUnconfirmed, match="only part of it is readable") as refused:
        await lost.append(batch)
    assert refused.value.read_back
    assert await store.last_message(batch[0].subject) is not None
    assert [await store.last_message(w.subject) for w in batch[1:]] == [None, None]
    problem = health.problem()
    assert problem is not None and "unconfirmed" in problem


class FastClock(LostAnswer):
    """A lost answer on a host whose clock runs 30 s ahead of the NATS server's."""

    async def _resolve_ambiguous(
        self, batch_id: str, writes: Sequence[Write], started: datetime
    ) -> list[int]:
        return await super()._resolve_ambiguous(batch_id, writes, started + timedelta(seconds=30))


@pytest.mark.parametrize("expected", [0, None], ids=["expected sequence", "no expected sequence"])
async def test_a_stored_write_is_read_back_whatever_the_hosts_clock_says(
    nc: NATS, store: JetStreamEventStore, expected: int | None
) -> None:
    """The read-back looked from 2 s before the send by this host's clock, the server stamping with its own: a
    host 3 s fast called a stored write not stored (503, and a client without a key filed it twice)."""
    fast = FastClock(nc, store.spec)
    batch = [Write(store.spec.event_subject(uuid.uuid4()), b"m", expected_last_seq=expected)]
    [position] = await fast.append(batch)
    stored = await store.message_at(position)
    assert stored is not None and stored.subject == batch[0].subject


async def test_a_lost_answer_is_logged_without_the_context_of_the_request_that_started_group_commit(
    nc: NATS, store: JetStreamEventStore
) -> None:
    """Found by a review: the group commit's flushers started inside the first write's request, so every later
    write's failure was logged with that request's id and token (a revoked one, minutes old, at 3 a.m.)."""
    lost, _ = lost_answers(nc, store.spec, published=0)
    structlog.contextvars.bind_contextvars(request_id="the-first-request", token_id="tok_first")
    async with GroupCommitter(lost) as committer:
        structlog.contextvars.clear_contextvars()

        async def later_request() -> None:
            structlog.contextvars.bind_contextvars(request_id="a-later-request")
            with pytest.raises(WriteUnconfirmed):
                await committer.append(writes(store.spec, 1))

        with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
            await asyncio.create_task(later_request(), context=contextvars.Context())
    ambiguous = [line for line in logs if line["event"] == "append_ambiguous"]
    assert ambiguous, logs
    assert all(line.get("request_id") != "the-first-request" and "token_id" not in line for line in logs), (
        logs
    )


class Hung(LostAnswer):
    """nats-server alive on the socket but answering nothing: the write's answer and the read-back both time out."""

    published = 0

    async def read_subject(self, *args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("no answer from NATS within 5s")


async def test_a_write_a_hung_server_neither_confirms_nor_reads_back_is_counted_unconfirmed(
    nc: NATS, store: JetStreamEventStore
) -> None:
    """Found by a review: with nats-server stopped (SIGSTOP) writes were answered 503 unconfirmed while the count
    behind LeveeWritesUnconfirmed stayed 0, since a write that could not be read back was taken for a lost
    connection, which the connection stands through."""
    health = WriteHealth()
    hung = Hung(nc, store.spec, health=health)
    with pytest.raises(WriteUnconfirmed, match="could not be read back") as refused:
        await hung.append(writes(store.spec, 1))
    assert not refused.value.read_back and nc.is_connected
    problem = health.problem()
    assert problem is not None and "unconfirmed" in problem
