"""GET /healthz: can this API reach NATS (a stream round trip) and PostgreSQL (SELECT 1) right now, and is the
stream taking this process's writes (the last refusal, while none has succeeded since)?
GET /readyz: may a load balancer send this process traffic? Yes once it has reached NATS and its stream, and from
then on while it serves HTTP at all; no while it drains to stop. GET /livez: is the process alive (liveness)?

/healthz is the page a 3 a.m. operator opens first, so a failure names the dependency that is down and why.
It is not the readiness probe: in a NATS outage every API pod would go unready at once, and clients would get
no 503 with Retry-After (only a proxy's error), while the board and status pages, which need PostgreSQL
only, would go dark too. A 503 from a handler is an answer; an unready pod is silence.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import nats.errors
from aiohttp import web

from events.store import StoreError
from services.api import keys
from services.api.pg_bounded import NoConnection, connection_until
from services.api.problems import TYPE_BASE, log_problem

CHECK_TIMEOUT = 1.0  # seconds for each dependency
RETRY_AFTER = 5  # seconds: how soon asking again can give another answer
PROBLEM_JSON = "application/problem+json"
DEPENDENCY_DOWN = TYPE_BASE + "dependency_unavailable"  # the type every other problem has: base + code
STREAM_GAP = TYPE_BASE + "stream_gap"


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/livez", livez)


async def readyz(request: web.Request) -> web.Response:
    """200 once this process has reached NATS and its stream, and from then on while it answers, outages
    included (see the module doc); 503 before (a replica deployed with a wrong NATS_URL or password never takes
    traffic, nor lets a rolling update replace the working ones) and while it drains to stop."""
    if request.app[keys.SERVING].draining:
        return _unready("draining", "This process is stopping; it finishes what it was sent.")
    link = request.app[keys.NATS_LINK]
    if not link.stream_ready:
        return _unready("not_started", f"NATS {link.shown_url}: {link.problem}")
    return web.json_response({"status": "ready"}, headers={"Cache-Control": "no-store"})


def _unready(status: str, detail: str) -> web.Response:
    return web.json_response(
        {"status": status, "detail": detail},
        status=503,
        headers={"Cache-Control": "no-store", "Retry-After": "5"},
    )


async def livez(request: web.Request) -> web.Response:
    """200 while this process answers HTTP: the liveness probe (never restarted for a dependency's outage)."""
    return web.json_response({"status": "alive"}, headers={"Cache-Control": "no-store"})


async def healthz(request: web.Request) -> web.Response:
    (nats, last_seq), postgres = await asyncio.gather(
        check_nats(request.app[keys.NATS_LINK]), check_postgres(request.app[keys.PG_POOL])
    )
    if nats == "ok" and postgres == "ok":
        # The read models' position first, the stream's end after: read the other way round, a projector
        # busy in a surge would be past an end read a moment earlier, and that is no gap.
        read_models_at = await read_models_position(request.app[keys.PG_POOL])
        if read_models_at is not None:
            last_seq = (await check_nats(request.app[keys.NATS_LINK]))[1]
        if last_seq is not None and read_models_at is not None and last_seq < read_models_at:
            log_problem(
                request, "stream_gap", 500, f"stream ends at {last_seq}, read models at {read_models_at}"
            )
            return problem_response(
                500, title="Stream gap: acknowledged data may be lost",
                detail=f"The stream ends at {last_seq} but the read models have processed {read_models_at}. "
                "The projector refuses to carry on. After restoring the stream from a backup, run `levee "
                "rebuild read_models`; otherwise see docs/operations.md, section 2.",
                type_=STREAM_GAP, code="stream_gap", stream_last_seq=last_seq, read_models_at=read_models_at,
            )  # fmt: skip
        body = {"status": "ok", "nats": nats, "postgres": postgres, "stream_last_seq": last_seq}
        return web.json_response(body, headers={"Cache-Control": "no-store"})
    down = [f"NATS {nats}" if nats != "ok" else "", f"PostgreSQL {postgres}" if postgres != "ok" else ""]
    log_problem(request, "dependency_unavailable", 503, "; ".join(d for d in down if d))
    return problem_response(
        503,
        title="A dependency is unavailable",
        detail="; ".join(d for d in down if d),
        type_=DEPENDENCY_DOWN,
        code="dependency_unavailable",
        nats=nats,
        postgres=postgres,
    )


async def check_nats(link: keys.NatsLink) -> tuple[str, int | None]:
    """("ok", the stream's last sequence) or (what is wrong, None). A broker that answers reads is not ok
    while it refuses this process's writes: a full disk looks like that (docs/operations.md, section 12)."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            last_seq = await link.store(timeout=CHECK_TIMEOUT).last_sequence()
    except keys.DependencyUnavailable as exc:
        return f"unavailable: {exc.detail}", None
    except TimeoutError:
        return f"unavailable: {link.shown_url}: no answer within {CHECK_TIMEOUT:g}s", None
    except (StoreError, nats.errors.Error) as exc:
        return f"unavailable: {link.shown_url}: {type(exc).__name__}: {exc}", None
    refusing = link.write_health.problem()
    if refusing is not None:
        return f"refusing writes: {refusing}", None
    return "ok", last_seq


async def _probe(pool: asyncpg.Pool, sql: str) -> Any:
    """One short statement, bounded whole by CHECK_TIMEOUT (services/api/pg_bounded.py: a hung server is not
    waited on to cancel it or reset the connection)."""
    async with connection_until(pool, asyncio.get_running_loop().time() + CHECK_TIMEOUT) as conn:
        return await conn.fetchval(sql)


async def check_postgres(pool: asyncpg.Pool) -> str:
    try:
        await _probe(pool, "SELECT 1")
    except TimeoutError as exc:
        if (
            isinstance(exc, NoConnection)
            and pool.get_idle_size() == 0
            and pool.get_size() >= pool.get_max_size()
        ):
            # Not PostgreSQL's fault, most likely: slow reads hold every connection. Said so, or the runbook's
            # "PostgreSQL down" sent the operator hunting a server that was fine.
            return (
                f"busy: all {pool.get_max_size()} of this API's PostgreSQL connections are in use (slow reads "
                "hold them; PostgreSQL itself may be fine)"
            )
        return f"unavailable: no answer within {CHECK_TIMEOUT:g}s"
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return f"unavailable: {type(exc).__name__}: {exc}"
    return "ok"


async def read_models_position(pool: asyncpg.Pool) -> int | None:
    """How far the projector got, or None before it made its tables (or if PostgreSQL cannot say now)."""
    try:
        value = await _probe(
            pool, "SELECT position FROM levee_read.projection_tracking WHERE name = 'read_models'"
        )
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return None
    return int(value) if value is not None else None


def problem_response(
    status: int, *, title: str, detail: str, type_: str = "about:blank", **extensions: Any
) -> web.Response:
    """An RFC 9457 problem document; a 503 carries Retry-After so clients and proxies back off."""
    body = {"type": type_, "title": title, "status": status, "detail": detail, **extensions}
    headers = {"Cache-Control": "no-store"}
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER)
    return web.json_response(body, status=status, content_type=PROBLEM_JSON, headers=headers)


OPENAPI_PATHS: dict[str, Any] = {
    "/readyz": {"get": {
        "operationId": "readyz", "tags": ["operations"], "security": [{}],
        "summary": "Readiness: 200 once this process reached NATS and its stream, then while it serves HTTP "
                   "(outages included: a 503 from intake is still an answer); 503 before, and while it drains",
        "responses": {
            "200": {"description": "Serving", "content": {"application/json": {"schema": {
                "type": "object", "required": ["status"], "properties": {"status": {"const": "ready"}}}}}},
            "503": {"description": "Not started (NATS never reached) or stopping", "headers": {
                "Retry-After": {"schema": {"type": "string"}}}, "content": {"application/json": {"schema": {
                "type": "object", "required": ["status", "detail"], "properties": {
                    "status": {"enum": ["not_started", "draining"]}, "detail": {"type": "string"}}}}}},
        },
    }},
    "/livez": {"get": {
        "operationId": "livez", "tags": ["operations"], "security": [{}],
        "summary": "Liveness: 200 while this process serves HTTP (never restarted for a dependency's outage)",
        "responses": {"200": {"description": "Alive", "content": {"application/json": {"schema": {
            "type": "object", "required": ["status"], "properties": {"status": {"const": "alive"}}}}}}},
    }},
}  # fmt: skip
