"""`levee stream upgrade`: add to an older deployment's stream the subjects this version of Levee writes.
`levee stream get SEQ`: print one message of the stream (an event a projector or a worker refused, by the
sequence its log line gives), with no other tool: the `nats` CLI is not installed with Levee.

Services may not update the stream (their NATS users lack `$JS.API.STREAM.UPDATE`,
services/embedded/nats_permissions.py), so after an upgrade that adds a subject they stop with
StreamNeedsUpgrade until an operator runs this once with the admin user's credentials in NATS_URL
(docs/operations.md, section 6). It only adds subjects; everything else of the stream stays as it is.
Beside `levee up` it uses `levee up`'s own NATS, which needs no upgrade (its services add the subjects).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import nats.errors
import structlog
from nats.aio.client import Client as NATS

from events.store import JetStreamEventStore, StoreError
from events.store.connection import connect_nats
from events.store.records import StoredMessage
from events.store.stream import (
    StreamConfigError,
    StreamNeedsUpgrade,
    add_missing_subjects,
    ensure_stream,
    missing_subjects,
)
from services.settings import Settings, SettingsError, without_passwords

log = structlog.get_logger(__name__)

CONNECT_BOUND = 15.0  # seconds to reach NATS before giving up (the client would retry for ever)
UPGRADE_SECONDS = 30.0  # the admin's update: a cluster's stream answers once its replicas agree
STREAM_NOT_FOUND = 10059


def add_parser(commands: Any) -> None:
    """`commands` is the `levee` parser's subparsers object."""
    parser = commands.add_parser("stream", help="the event stream: upgrade an older deployment's")
    actions = parser.add_subparsers(required=True, metavar="ACTION")
    upgrade = actions.add_parser(
        "upgrade",
        help="add the subjects this version writes to an existing stream (NATS_URL with the admin user)",
    )
    upgrade.set_defaults(command=_upgrade)
    get = actions.add_parser("get", help="print the message at one stream sequence, as JSON")
    get.add_argument("seq", type=int, metavar="SEQ", help="the stream sequence (a log line's `seq`)")
    get.set_defaults(command=_get)


async def _get(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return await print_message(settings, args.seq)


async def _connected(url: str, name: str, *, failed: str) -> NATS | None:
    """A connection within CONNECT_BOUND (the client would retry for ever), or None, logged as `failed`."""
    try:
        async with asyncio.timeout(CONNECT_BOUND):
            return await connect_nats(url, name=name)
    except (TimeoutError, nats.errors.Error) as exc:
        log.error(
            failed,
            nats=without_passwords(url),
            reason=f"NATS not reachable: {str(exc) or type(exc).__name__}",
        )
        return None


async def print_message(settings: Settings, seq: int, *, out: TextIO | None = None) -> int:
    """0 and the message as one JSON object (seq, subject, time, headers, data: the event's JSON when it is JSON,
    else base64) on stdout; 1 when NATS cannot be reached or the stream has no message there. Personal data
    in it stays sealed, as the stream holds it."""
    if settings.nats_url is None:
        raise SettingsError("`levee stream get` needs NATS_URL (beside `levee up`: found by itself)")
    nc = await _connected(settings.nats_url, "levee-stream-get", failed="stream_get_failed")
    if nc is None:
        return 1
    try:
        message = await JetStreamEventStore(nc, settings.stream_spec).message_at(seq)
    except StoreError as exc:  # StoreUnavailable too
        log.error("stream_get_failed", seq=seq, stream=settings.stream_spec.name, reason=str(exc))
        return 1
    finally:
        await nc.close()
    if message is None:
        log.error("stream_get_failed", seq=seq, stream=settings.stream_spec.name,
                  reason="no message at that sequence (never written, or removed by the stream's limits)")  # fmt: skip
        return 1
    stream = out or sys.stdout
    stream.write(json.dumps(as_json(message), ensure_ascii=False, default=str) + "\n")
    stream.flush()
    return 0


def as_json(message: StoredMessage) -> dict[str, Any]:
    try:
        data: Any = json.loads(message.data)
    except ValueError:  # not JSON (or not UTF-8): as it is, in base64
        data = {"base64": base64.b64encode(message.data).decode()}
    return {"seq": message.seq, "subject": message.subject, "time": message.time, "headers": message.headers,
            "data": data}  # fmt: skip


async def _upgrade(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return await upgrade_stream(settings)


async def upgrade_stream(
    settings: Settings, *, out: TextIO | None = None, timeout: float = UPGRADE_SECONDS
) -> int:
    """0 when the stream has every subject (added now or already there) or does not exist yet; 1 otherwise.

    `timeout` bounds each request: a user without the permission waits that long for an answer that never comes."""
    if settings.nats_url is None:
        raise SettingsError("`levee stream upgrade` needs NATS_URL, with the NATS admin user's credentials")
    spec, shown = settings.stream_spec, without_passwords(settings.nats_url)
    nc = await _connected(settings.nats_url, "levee-stream-upgrade", failed="stream_not_upgraded")
    if nc is None:
        return 1
    stream = out or sys.stdout
    try:
        reply = await nc.request(f"$JS.API.STREAM.INFO.{spec.name}", b"", timeout=timeout)
        body: dict[str, Any] = json.loads(reply.data)
        if (error := body.get("error")) and error.get("err_code") == STREAM_NOT_FOUND:
            stream.write(
                f"stream {spec.name} does not exist yet: the first service to start creates it whole\n"
            )
            return 0
        if error:
            raise StreamConfigError(f"stream {spec.name}: {error.get('description')}")
        missing = missing_subjects(spec, body["config"])
        if missing:
            await add_missing_subjects(nc, spec, body["config"], timeout=timeout)
        await ensure_stream(nc, spec, timeout=timeout)  # and it keeps the guarantees Levee relies on
    except StreamNeedsUpgrade as exc:
        log.error("stream_not_upgraded", stream=spec.name, missing=exc.missing, nats=shown,
                  reason=f"{exc.reason}; NATS_URL must carry the NATS admin user (LEVEE_NATS_ADMIN_PASSWORD), "
                  "not a service's")  # fmt: skip
        return 1
    except (StreamConfigError, TimeoutError, nats.errors.Error) as exc:
        log.error("stream_not_upgraded", stream=spec.name, nats=shown, reason=str(exc) or type(exc).__name__)
        return 1
    finally:
        await nc.close()
    if missing:
        stream.write(f"stream {spec.name}: added {', '.join(missing)}; restart the services that stopped\n")
        log.info("stream_upgraded", stream=spec.name, added=missing)
    else:
        stream.write(f"stream {spec.name} already has every subject this version writes: nothing to do\n")
    stream.flush()
    return 0
