"""`dead_letters`: the events a worker set aside after repeated failures, where command staff can see them.

A dead letter is not an event: the worker writes a JSON record to `<prefix>.dlq.<worker>`
(services/runtime/worker.py `_dead_letter`), and the runner hands such messages here by subject. Every value
comes from the message (the record's time, else the server's), never the clock, so a rebuild writes the same
rows. A record that cannot be read still makes a row: that something was set aside is the news.

Re-driving (services/runtime/redrive.py) adds two subjects under the same prefix, folded here into the row of
the dead letter retried: `<prefix>.dlq.<worker>.retry` (staff's request: pending) and `...retried` (the
worker's outcome: succeeded, or ignored). A retry that fails again is a new dead letter naming the one it
retried (`retry_of`): a new row, and the old one marked failed. Each row's updates are keyed by its position,
so they keep their order within a batch, and they run after the batch's new rows (projections/plan.py).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import structlog

from events.store.records import StoredMessage
from projections.ops import Append, Op, SqlOp

log = structlog.get_logger(__name__)

TABLE = "dead_letters"
COLUMNS = (
    "position", "worker", "event_position", "event_subject", "topic", "error", "attempts", "at", "retry_of",
)  # fmt: skip
MAX_TEXT = 2000  # the worker cuts its error text to this too
REQUESTED = (
    "UPDATE dead_letters SET retry_state = 'pending', retry_position = $2, retry_requested_at = $3, "
    "retry_requested_by = $4 WHERE position = $1 AND retry_state IS DISTINCT FROM 'succeeded'"
)
SUCCEEDED = (
    "UPDATE dead_letters SET retry_state = 'succeeded', retry_position = $2, retry_succeeded_at = $3 "
    "WHERE position = $1"
)
FAILED = (
    "UPDATE dead_letters SET retry_state = 'failed', retry_position = $2, retry_failed_at = $3, "
    "retry_failed_position = $4 WHERE position = $1"
)
# Only the request it answers: a later request for the same row stays pending.
IGNORED = (
    "UPDATE dead_letters SET retry_state = 'ignored' "
    "WHERE position = $1 AND retry_position = $2 AND retry_state = 'pending'"
)


def apply(message: StoredMessage) -> list[Op]:
    """`<prefix>.dlq.<worker>`, or with `.retry` / `.retried` after it."""
    kind = message.subject.split(".")[3:4]
    if kind == ["retry"]:
        return _requested(message)
    if kind == ["retried"]:
        return _retried(message)
    record = _record(message)
    at = _time(record.get("at")) or message.time
    retry_of = _whole(record.get("retry_of"))
    row = (
        message.seq,
        _text(record.get("worker")) or message.subject.rpartition(".")[2],
        _whole(record.get("seq")),
        _text(record.get("subject")),
        _text(record.get("topic")),
        _text(record.get("error")) or "",
        _whole(record.get("attempts"), bits=31),
        at,
        retry_of,
    )
    ops: list[Op] = [Append(TABLE, COLUMNS, row)]
    if retry_of is not None:
        args = (retry_of, _whole(record.get("retry_position")), at, message.seq)
        ops.append(SqlOp(TABLE, FAILED, args, key=(TABLE, retry_of)))
    return ops


def _requested(message: StoredMessage) -> list[Op]:
    record = _record(message)
    row = _whole(record.get("dead_letter_position"))
    if row is None:
        return []
    at = _time(record.get("requested_at")) or message.time
    args = (row, message.seq, at, _text(record.get("requested_by")))
    return [SqlOp(TABLE, REQUESTED, args, key=(TABLE, row))]


def _retried(message: StoredMessage) -> list[Op]:
    record = _record(message)
    row = _whole(record.get("dead_letter_position"))
    request = _whole(record.get("retry_position"))
    if row is None:
        return []
    if record.get("outcome") == "succeeded":
        at = _time(record.get("at")) or message.time
        return [SqlOp(TABLE, SUCCEEDED, (row, request, at), key=(TABLE, row))]
    return [SqlOp(TABLE, IGNORED, (row, request), key=(TABLE, row))]


def _record(message: StoredMessage) -> dict[str, Any]:
    try:
        record = json.loads(message.data)
    except (ValueError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict):
        log.warning("dead_letter_unreadable", seq=message.seq, subject=message.subject)
        raw = message.data[:MAX_TEXT].decode("utf-8", errors="replace")
        return {"error": f"unreadable dead-letter record: {raw}"}
    return record


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) else None


def _whole(value: Any, bits: int = 63) -> int | None:
    """An int that fits the column (bigint, or integer with bits=31); a bool is never a position or a count."""
    if isinstance(value, int) and not isinstance(value, bool) and -(2**bits) <= value < 2**bits:
        return value
    return None


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
