"""Retry requests and their outcomes that meet in the stream out of the usual order (a request racing the
worker's answer to another), fed straight to the projection: the dead-letter list and the board's count say
what came of the retry, never an older or another request's state."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from events.store import JetStreamEventStore, Write
from services.api.read_models import queries
from tests.integration.projections.conftest import MakeRunner

WORKER = "dispatch"
EVENT = 41  # the position of the event the worker set aside
AT = "2026-07-01T08:00:00+00:00"


class Stream:
    """Writes a worker's dead-letter subjects as the worker and the API do (services/runtime/redrive.py)."""

    def __init__(self, store: JetStreamEventStore) -> None:
        self.store = store
        self.spec = store.spec

    async def _write(self, subject: str, record: dict[str, Any]) -> int:
        [position] = await self.store.append([Write(subject, json.dumps(record).encode())])
        return position

    async def dead_letter(self) -> int:
        record = {"worker": WORKER, "seq": EVENT, "subject": f"{self.spec.prefix}.ev.x", "error": "KeyError('x')",
                  "topic": "events.complaint:ComplaintReceived", "attempts": 5, "at": AT}  # fmt: skip
        return await self._write(self.spec.dead_letter_subject(WORKER), record)

    async def request(self, dead_letter: int, by: str) -> int:
        record = {"worker": WORKER, "event_position": EVENT, "dead_letter_position": dead_letter,
                  "requested_by": by, "requested_at": AT}  # fmt: skip
        return await self._write(self.spec.retry_subject(WORKER), record)

    async def outcome(self, dead_letter: int, request: int, outcome: str) -> int:
        record = {"worker": WORKER, "outcome": outcome, "seq": EVENT, "dead_letter_position": dead_letter,
                  "retry_position": request, "at": AT}  # fmt: skip
        return await self._write(self.spec.retried_subject(WORKER), record)


async def _listed(pg: asyncpg.Connection) -> tuple[str | None, int | None, int]:
    """What command staff see: the row's retry state and request on the dead-letter list, and the board's
    count of dead letters still to deal with."""
    [row] = await queries.dead_letters(pg)
    return row["retry_state"], row["retry_position"], (await queries.board_counts(pg))["dead_letters"]


async def test_a_request_stored_after_the_retry_succeeded_leaves_it_shown_succeeded(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """Two staff asked at once; the worker re-drove the first and ignored the second ("already re-driven
    successfully"). Read as a new request, the second showed the fixed dead letter pending again, then ignored,
    and the board counted it as still to deal with."""
    stream, runner = Stream(store), await make_runner(batch_size=1)
    dead = await stream.dead_letter()
    first = await stream.request(dead, "cmd-wu")
    await stream.outcome(dead, first, "succeeded")
    await runner.catch_up()
    assert await _listed(pg) == ("succeeded", first, 0)
    second = await stream.request(dead, "cmd-li")
    await runner.catch_up()
    assert await _listed(pg) == ("succeeded", first, 0)
    await stream.outcome(dead, second, "ignored")
    await runner.catch_up()
    assert await _listed(pg) == ("succeeded", first, 0)


async def test_an_answer_to_an_earlier_request_leaves_the_later_one_pending(
    store: JetStreamEventStore, pg: asyncpg.Connection, make_runner: MakeRunner
) -> None:
    """The worker ignored the first of two requests: the second still waits for it, and the list says so until
    the worker answers that one. Read as the answer to any request, the list showed the retry ignored while it
    was still to run (and staff asking again were refused: one is pending)."""
    stream, runner = Stream(store), await make_runner(batch_size=1)
    dead = await stream.dead_letter()
    first = await stream.request(dead, "cmd-wu")
    second = await stream.request(dead, "cmd-li")
    await stream.outcome(dead, first, "ignored")
    await runner.catch_up()
    assert await _listed(pg) == ("pending", second, 1)
    await stream.outcome(dead, second, "succeeded")
    await runner.catch_up()
    assert await _listed(pg) == ("succeeded", second, 0)
