"""Re-driving a dead letter: staff ask a worker to handle an event it set aside once more, after the cause is
fixed. The facts are read from the stream, never from the read models, so the API's check and the worker's
decision see the same thing. Three subjects per worker, all under `<prefix>.dlq.` (events/store/stream.py):

- `dlq.<worker>`: its dead letters, one record per event set aside; a retry that fails again adds one, with
  `retry_of` (the dead letter it retried), `retry_position` (the request) and the attempts added up.
- `dlq.<worker>.retry`: retry requests (the API, `levee deadletters retry`), each naming an event position.
- `dlq.<worker>.retried`: what came of a request that did not fail again: `succeeded` or `ignored`.

The worker reads the requests addressed to it in stream order and commits each one's outcome (the effects,
the outcome record or the new dead letter) with its tracking record at the request's position, so a request
is applied exactly once however often the worker crashes or how many instances run (services/runtime/worker.py).

A request staff sent with an Idempotency-Key carries its mark (the `Levee-Request` header, as a keyed command's
event does): asked again with the same mark, `request_retry` answers that request and its outcome so far
instead of refusing (pending, re-driven already) or asking a second time (after it failed again).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from events.store import ConcurrencyConflict, JetStreamEventStore, Write
from events.store.aggregates import REQUEST, RequestMark
from events.store.records import StoredMessage
from services.runtime.tracking import load_tracking

SUCCEEDED = "succeeded"
IGNORED = "ignored"
PENDING = "pending"  # a request the worker has not handled yet
FAILED = "failed"  # a request whose retry failed again (a newer dead letter names it)
MAX_BY = 200  # characters of `requested_by` kept
REQUEST_TRIES = 3  # a request that keeps meeting another one made at the same moment is refused after this
# A worker's name is one subject token: never a wildcard, a separator or blank.
WORKER_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True, slots=True)
class RetryRequest:
    seq: int  # the request's own position in the stream
    event_position: int | None  # None: the request cannot be read
    dead_letter_position: int | None
    mark: RequestMark | None = None  # the keyed request that stored it (staff's Idempotency-Key)


def parse_request(message: StoredMessage) -> RetryRequest:
    record = _json(message.data)
    mark = message.headers.get(REQUEST)
    return RetryRequest(
        message.seq,
        _position(record.get("event_position")),
        _position(record.get("dead_letter_position")),
        RequestMark.parse(mark) if mark else None,
    )


@dataclass(slots=True)
class DeadLetterFacts:
    """What one worker's subjects say about one event, up to a position."""

    dead: StoredMessage | None = None  # the latest dead letter for the event
    record: dict[str, Any] = field(default_factory=dict)  # its record
    succeeded: StoredMessage | None = None  # a retry that succeeded after it
    requests: list[RetryRequest] = field(default_factory=list)  # requests for the event after it
    last_request_seq: int = 0  # the retry subject's last message, for any event (0: none)
    marked: dict[str, RetryRequest] = field(default_factory=dict)  # keyed requests for the event, by scope
    outcomes: dict[int, str] = field(default_factory=dict)  # request position -> succeeded, ignored, failed

    @property
    def attempts(self) -> int:
        attempts = self.record.get("attempts")
        return attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0


async def dead_letter_facts(
    store: JetStreamEventStore, worker: str, event_position: int, *, before: int | None = None
) -> DeadLetterFacts:
    """The facts as of the stream's end, or (with `before`) as they stood just before that position."""
    spec = store.spec
    dead = await store.read_subject(spec.dead_letter_subject(worker))
    around = await store.read_subject(f"{spec.dead_letter_subject(worker)}.>")  # requests and outcomes
    if before is not None:
        dead = [m for m in dead if m.seq < before]
        around = [m for m in around if m.seq < before]
    facts = DeadLetterFacts()
    for message in dead:
        record = _json(message.data)
        if _position(record.get("seq")) == event_position:
            facts.dead, facts.record = message, record
            if (retried := _position(record.get("retry_position"))) is not None:
                facts.outcomes[retried] = FAILED
    after = facts.dead.seq if facts.dead is not None else 0
    for message in around:
        if message.subject == spec.retry_subject(worker):
            facts.last_request_seq = message.seq
            request = parse_request(message)
            if request.event_position != event_position:
                continue
            if message.seq > after:
                facts.requests.append(request)
            if request.mark is not None and request.dead_letter_position is not None:
                facts.marked.setdefault(request.mark.scope, request)  # the first: the one that was answered
        elif message.subject == spec.retried_subject(worker):
            record = _json(message.data)
            if _position(record.get("seq")) != event_position:
                continue
            if record.get("outcome") == SUCCEEDED and message.seq > after:
                facts.succeeded = message
            if (retried := _position(record.get("retry_position"))) is not None:
                facts.outcomes[retried] = str(record.get("outcome"))
    return facts


def refusal(facts: DeadLetterFacts, original: StoredMessage | None, events_prefix: str) -> str | None:
    """Why a worker leaves a request alone (None: handle the event again)."""
    if facts.dead is None:
        return "not dead-lettered by this worker"
    if facts.succeeded is not None:
        return "already re-driven successfully"
    if original is None or not original.subject.startswith(events_prefix):
        return "the event is not in the stream"
    if facts.record.get("subject") not in (None, original.subject):
        return "the dead letter names another subject"
    return None


def outcome(
    worker: str, request: RetryRequest, result: str, at: datetime, dead_letter: int | None, **more: Any
) -> bytes:
    """The record on `dlq.<worker>.retried`; the projector folds it into the row of `dead_letter` (the
    position of the dead letter retried)."""
    record = {
        "worker": worker,
        "outcome": result,
        "seq": request.event_position,
        "dead_letter_position": dead_letter,
        "retry_position": request.seq,
        "at": at.isoformat(),
        **more,
    }
    return json.dumps(record).encode()


# -- asking ------------------------------------------------------------------------------------------


class NoSuchDeadLetter(Exception):
    """The worker never set this event aside."""


class RetryRefused(Exception):
    """The dead letter cannot be retried now: `code` says why (already_retried, retry_pending, busy)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class RetryRequested:
    position: int  # the request's own position in the stream
    worker: str
    event_position: int
    dead_letter_position: int
    # Set when this answers an earlier request with the asked mark's scope (nothing was stored): its mark,
    # for the caller to compare fingerprints, and what came of it so far.
    replay_of: RequestMark | None = None
    state: str = PENDING


async def request_retry(
    store: JetStreamEventStore,
    worker: str,
    event_position: int,
    *,
    by: str,
    at: datetime,
    request: RequestMark | None = None,
) -> RetryRequested:
    """Append a retry request for a dead letter that is open: not re-driven already, no request pending.

    Pending means the worker has not reached it yet (its tracking position). The request expects the retry
    subject's last message as read, so of two asking at once one is refused and looks again. `request`: the
    keyed request asking, marked on the message; one of its scope stored before is answered instead, whatever
    came of it (a racing twin, refused by the expected-sequence check, finds the winner's on its next look)."""
    if not WORKER_NAME.fullmatch(worker):
        raise NoSuchDeadLetter(f"no worker is called {worker!r}")
    subject = store.spec.retry_subject(worker)
    for _ in range(REQUEST_TRIES):
        facts = await dead_letter_facts(store, worker, event_position)
        earlier = facts.marked.get(request.scope) if request is not None else None
        if earlier is not None and earlier.mark is not None and earlier.dead_letter_position is not None:
            state = facts.outcomes.get(earlier.seq, PENDING)
            return RetryRequested(
                earlier.seq, worker, event_position, earlier.dead_letter_position, earlier.mark, state
            )
        if facts.dead is None:
            raise NoSuchDeadLetter(
                f"{worker} set no event at position {event_position} aside (give the event's position, the list's "
                "EVENT_POSITION, not the dead letter's own)"
            )
        if facts.succeeded is not None:
            raise RetryRefused("already_retried", f"{worker} re-drove event {event_position} successfully")
        position = (await load_tracking(store, worker)).position
        if any(request.seq > position for request in facts.requests):
            raise RetryRefused("retry_pending", f"a retry of event {event_position} waits for {worker}")
        record = {
            "worker": worker,
            "event_position": event_position,
            "dead_letter_position": facts.dead.seq,
            "requested_by": by[:MAX_BY],
            "requested_at": at.isoformat(),
        }
        headers = {REQUEST: request.header} if request is not None else {}
        write = Write(
            subject, json.dumps(record).encode(), headers=headers, expected_last_seq=facts.last_request_seq
        )
        try:
            [stored] = await store.append([write])
        except ConcurrencyConflict:
            continue  # another request came in meanwhile: look again
        return RetryRequested(stored, worker, event_position, facts.dead.seq)
    raise RetryRefused("busy", f"other retry requests for {worker} kept coming in; try again")


def _json(data: bytes) -> dict[str, Any]:
    try:
        record = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return record if isinstance(record, dict) else {}


def _position(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
