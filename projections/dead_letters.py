"""`dead_letters`: the events a worker set aside after repeated failures, where command staff can see them.

A dead letter is not an event: the worker writes a JSON record to `<prefix>.dlq.<worker>`
(services/runtime/worker.py `_dead_letter`), and the runner hands such messages here by subject. Every value
comes from the message (the record's time, else the server's), never the clock, so a rebuild writes the same
rows. A record that cannot be read still makes a row: that something was set aside is the news.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import structlog

from events.store.records import StoredMessage
from projections.ops import Append, Op

log = structlog.get_logger(__name__)

TABLE = "dead_letters"
COLUMNS = ("position", "worker", "event_position", "event_subject", "topic", "error", "attempts", "at")
MAX_TEXT = 2000  # the worker cuts its error text to this too


def apply(message: StoredMessage) -> list[Op]:
    record = _record(message)
    row = (
        message.seq,
        _text(record.get("worker")) or message.subject.rpartition(".")[2],
        _whole(record.get("seq")),
        _text(record.get("subject")),
        _text(record.get("topic")),
        _text(record.get("error")) or "",
        _whole(record.get("attempts"), bits=31),
        _time(record.get("at")) or message.time,
    )
    return [Append(TABLE, COLUMNS, row)]


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
