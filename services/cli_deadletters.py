"""`levee deadletters list`: the events workers set aside, the latest first, with what came of any retry.
`levee deadletters retry WORKER EVENT_POSITION`: ask the worker to handle that event once more.

The retry is the API's own (POST /api/v1/dead-letters/{worker}/{event_position}/retry, services/runtime/
redrive.py): a request appended to the stream after the same checks, so it is applied once; exit 1 when it
is refused (no such dead letter, already re-driven, a retry pending). `list` reads DATABASE_URL, `retry`
NATS_URL (a NATS user that may publish `<prefix>.dlq.<worker>.retry`: the API's); beside `levee up` both are
its own.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import asyncpg
import nats.errors
import structlog

from events.store import JetStreamEventStore, StoreFull, StoreUnavailable, WriteUnconfirmed
from events.store.connection import connect_nats
from services.api.read_models import queries
from services.runtime import redrive
from services.settings import Settings, SettingsError

log = structlog.get_logger(__name__)

CONNECT_BOUND = 15.0  # seconds to reach NATS before giving up (the client would retry for ever)


def add_parser(commands: Any) -> None:
    """`commands` is the `levee` parser's subparsers object."""
    parser = commands.add_parser("deadletters", help="events workers set aside: list them, retry one")
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the latest dead letters, with their retry state")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    listing.set_defaults(command=_list)
    retry = actions.add_parser("retry", help="ask a worker to handle a dead-lettered event once more")
    retry.add_argument("worker", help="triage, dispatch or notices (the list's WORKER)")
    retry.add_argument(
        "event_position", type=int, help="the failed event's position (the list's EVENT_POSITION)"
    )
    retry.add_argument("--by", help="who asks, as recorded (default: cli:$USER)")
    retry.set_defaults(command=_retry)


async def _list(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return await list_dead_letters(settings, limit=args.limit)


async def _retry(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    by = args.by or f"cli:{environ.get('USER') or _login_name()}"
    return await retry_dead_letter(settings, args.worker, args.event_position, by=by)


def _login_name() -> str:
    """Who runs this when $USER is unset (`docker compose exec`, `kubectl exec`): the account's name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid with no account, as in some containers
        return f"uid {os.getuid()}"


async def list_dead_letters(settings: Settings, *, limit: int = 50, out: TextIO | None = None) -> int:
    if settings.database_url is None:
        raise SettingsError("`levee deadletters list` needs DATABASE_URL (levee up logs it as `postgres`)")
    conn = await asyncpg.connect(settings.database_url, timeout=10.0)
    try:
        rows = await queries.dead_letters(conn, limit=max(1, limit))
    finally:
        await conn.close()
    stream = out or sys.stdout
    # The dead letter's own position first, then the failed event's, which `retry` takes: named so (a review
    # retried the first column's number and was told no such event was set aside).
    stream.write(f"{'DEAD_LETTER':>11}  {'WORKER':<10}  {'EVENT_POSITION':>14}  {'ATTEMPTS':>8}  {'AT':<20}  "
                 f"{'RETRY':<24}  TOPIC / ERROR\n")  # fmt: skip
    for row in rows:
        attempts = "-" if row["attempts"] is None else str(row["attempts"])
        event = "-" if row["event_position"] is None else str(row["event_position"])
        stream.write(f"{row['position']:>11}  {row['worker']:<10}  {event:>14}  {attempts:>8}  "
                     f"{_when(row['at']):<20}  {_retry_text(row):<24}  {row['topic'] or '-'}\n"
                     f"{'':>13}{_one_line(row['error'])}\n")  # fmt: skip
    stream.flush()
    return 0


async def retry_dead_letter(
    settings: Settings, worker: str, event_position: int, *, by: str, out: TextIO | None = None
) -> int:
    """0 once the request is stored; 1 when refused (nothing stored, except after `write_unconfirmed`: it may
    be); 2 for a malformed worker or position."""
    if not redrive.WORKER_NAME.fullmatch(worker) or event_position < 1:
        log.error("retry_not_requested", worker=worker, event_position=event_position, reason="malformed")
        return 2
    if settings.nats_url is None:
        raise SettingsError("`levee deadletters retry` needs NATS_URL (levee up logs it as `nats`)")
    try:
        async with asyncio.timeout(CONNECT_BOUND):
            nc = await connect_nats(settings.nats_url, name="levee-deadletters")
    except TimeoutError:
        log.error("retry_not_requested", reason=f"NATS not reachable within {CONNECT_BOUND:.0f} s")
        return 1
    refused = log.bind(worker=worker, event_position=event_position)
    try:
        store = JetStreamEventStore(nc, settings.stream_spec)
        asked = await redrive.request_retry(store, worker, event_position, by=by, at=datetime.now(UTC))
    except redrive.NoSuchDeadLetter as exc:
        refused.error("retry_not_requested", code="not_found", reason=str(exc))
        return 1
    except redrive.RetryRefused as exc:
        refused.error("retry_not_requested", code=exc.code, reason=exc.detail)
        return 1
    except (StoreUnavailable, nats.errors.Error, TimeoutError) as exc:  # as the API's retry route
        code = (
            "event_store_full" if isinstance(exc, StoreFull)
            else "write_unconfirmed" if isinstance(exc, WriteUnconfirmed)  # may be stored: list, then ask again
            else "unavailable"
        )  # fmt: skip
        refused.error("retry_not_requested", code=code, reason=str(exc) or type(exc).__name__)
        return 1
    finally:
        await nc.close()
    stream = out or sys.stdout
    stream.write(
        f"retry requested: {worker} handles event {event_position} (dead letter {asked.dead_letter_position}) "
        f"once more; request at stream position {asked.position}. `levee deadletters list` shows the outcome.\n"
    )
    stream.flush()
    log.info("dead_letter_retry_requested", worker=worker, event_position=event_position, by=by,
             position=asked.position)  # fmt: skip
    return 0


def _retry_text(row: Mapping[str, Any]) -> str:
    state = row.get("retry_state")
    if state is None:
        return "-"
    if state == "failed" and row.get("retry_failed_position") is not None:
        return f"failed -> {row['retry_failed_position']}"
    if state == "pending" and row.get("retry_requested_by"):
        return f"pending ({row['retry_requested_by']})"[:24]  # the RETRY column's width
    return str(state)


def _when(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str | None, width: int = 200) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
