"""POST /api/v1/dead-letters/{worker}/{event_position}/retry: command staff ask a worker to handle an event
it set aside once more, after the cause is fixed (a release, a rules file, corrected data).

The request is a message in the stream (`<prefix>.dlq.<worker>.retry`), so it is durable, ordered and applied
once: the worker handles it at its own position (services/runtime/redrive.py). Whether the dead letter exists
and is open is read from the stream too, not the read models, so a retry that just succeeded is refused
even before the board shows it. 202 says the request is stored; the dead letter's row on the board and at
GET /api/v1/dead-letters shows `retry_state` pending, then succeeded or failed.

With an Idempotency-Key the request's message carries its mark (services/api/idempotency.py), scoped to this
token and this dead letter: asked again with the key, the answer is that request's 202, with its state as it is
now and `Idempotent-Replayed: true`, not a 409 (pending, re-driven) or a second redrive (after it failed again).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import nats.errors
import structlog
from aiohttp import web

from events.store.errors import StoreFull, StoreUnavailable, WriteUnconfirmed
from services.api import idempotency, keys
from services.api.auth import requires, role_names
from services.api.commands import KEYED_ADVICE, PROBLEM_STATUSES, read_body
from services.api.openapi import json_body, problem_responses
from services.api.principal import PRINCIPAL
from services.api.problems import Problem, store_full, write_unconfirmed
from services.runtime import redrive

log = structlog.get_logger(__name__)

API = "/api/v1"
PATH = f"{API}/dead-letters/{{worker}}/{{event_position}}/retry"
ROLES = ("command",)
MAX_POSITION = 2**63 - 1


@requires(*ROLES)
async def retry(request: web.Request) -> web.Response:
    key = idempotency.read_key(request.headers.get(idempotency.HEADER))
    worker, event_position = _target(request)
    body = await read_body(request, ())  # no fields: an empty body, or {}
    # The dead letter is the target: the same key on another one is another request.
    route = f"{request.method} {API}/dead-letters/{worker}/{event_position}/retry"
    mark = None if key is None else idempotency.staff_request(request[PRINCIPAL], route, None, key, body)
    store = request.app[keys.NATS_LINK].store()  # DependencyUnavailable (503) while NATS is not usable
    by = request[PRINCIPAL].name
    try:
        asked = await redrive.request_retry(
            store, worker, event_position, by=by, at=datetime.now(UTC), request=mark
        )
    except redrive.NoSuchDeadLetter as exc:
        raise Problem(404, "No such dead letter", str(exc), code="not_found") from None
    except redrive.RetryRefused as exc:
        raise Problem(409, "Cannot retry it now", exc.detail, code=exc.code) from None
    except StoreFull as exc:
        raise store_full(exc) from None
    except WriteUnconfirmed as exc:
        if mark is None:
            raise write_unconfirmed(exc, "The retry request") from None
        raise write_unconfirmed(exc, "The retry request", KEYED_ADVICE) from None
    except (StoreUnavailable, nats.errors.Error, TimeoutError) as exc:
        raise keys.DependencyUnavailable("NATS", f"nothing was stored: {type(exc).__name__}") from exc
    request[keys.LOG_FIELDS] = {"worker": worker, "event_position": event_position}
    if asked.replay_of is not None:
        if asked.replay_of != mark:
            raise idempotency.key_reused()
        log.info("dead_letter_retry_replayed", worker=worker, event_position=event_position,
                 position=asked.position, retry_state=asked.state)  # fmt: skip
        headers = {"Cache-Control": "no-store", idempotency.REPLAYED: "true"}
        return web.json_response(accepted(asked), status=202, headers=headers)
    log.info("dead_letter_retry_requested", worker=worker, event_position=event_position,
             position=asked.position, dead_letter_position=asked.dead_letter_position)  # fmt: skip
    return web.json_response(accepted(asked), status=202, headers={"Cache-Control": "no-store"})


def accepted(asked: redrive.RetryRequested) -> dict[str, Any]:
    """The 202's body: the request's own position, the dead letter it retries, and (for a keyed request
    answered again) what came of it so far."""
    return {
        "position": asked.position,
        "worker": asked.worker,
        "event_position": asked.event_position,
        "dead_letter_position": asked.dead_letter_position,
        "retry_state": asked.state,
    }


def _target(request: web.Request) -> tuple[str, int]:
    worker, raw = request.match_info["worker"], request.match_info["event_position"]
    if not redrive.WORKER_NAME.fullmatch(worker) or not raw.isascii() or not raw.isdigit():
        raise Problem(404, "No such dead letter", "Use /dead-letters/<worker>/<event_position>/retry, "
                      "as GET /api/v1/dead-letters lists them.", code="not_found")  # fmt: skip
    position = int(raw)
    if not 0 < position <= MAX_POSITION:
        raise Problem(404, "No such dead letter", f"No event is at position {raw}.", code="not_found")
    return worker, position


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, retry, name="dead_letters.retry")


RETRY_ACCEPTED: dict[str, Any] = {
    "type": "object", "required": ["position", "worker", "event_position", "dead_letter_position"],
    "properties": {
        "position": {"type": "integer", "description": "the retry request's own position in the stream"},
        "worker": {"type": "string"}, "event_position": {"type": "integer"},
        "dead_letter_position": {"type": "integer", "description": "the dead letter retried (its `position`)"},
        "retry_state": {"enum": [redrive.PENDING, redrive.SUCCEEDED, redrive.FAILED, redrive.IGNORED],
                        "description": "pending; a keyed request answered again says what came of it so far"},
    },
}  # fmt: skip
OPENAPI_PATHS: dict[str, Any] = {
    PATH: {"post": {
        "operationId": "dead_letter_retry", "tags": ["board"], "security": [{"bearer": []}],
        "summary": "Ask a worker to handle a dead-lettered event once more (after the cause is fixed)",
        "description": f"Roles: {', '.join(role_names(ROLES))}. The worker handles it at the request's own "
        "place in the stream, exactly once; GET /api/v1/dead-letters shows `retry_state` (pending, then "
        "succeeded, or failed with a newer dead letter). 404: that worker set no event at that position "
        "aside. 409: already re-driven successfully (`already_retried`), or a retry is pending "
        "(`retry_pending`). No body, or `{}`. With an Idempotency-Key, asking again answers the first "
        "request's 202 (its `position`, its `retry_state` now) instead of a 409 or a second retry.",
        "parameters": [
            {"name": "worker", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": f"^{redrive.WORKER_NAME.pattern}$"}, "description": "triage, dispatch, notices"},
            {"name": "event_position", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1}, "description": "the dead letter's `event_position`"},
            idempotency.PARAMETER,
        ],
        "requestBody": json_body({"type": "object", "additionalProperties": False}, required=False),
        "responses": {
            "202": {"description": "The retry request is stored; the worker will handle it",
                    "headers": {idempotency.REPLAYED: idempotency.REPLAYED_HEADER},
                    "content": {"application/json": {"schema": RETRY_ACCEPTED}}},
            **problem_responses(*PROBLEM_STATUSES),
        },
    }},
}  # fmt: skip
