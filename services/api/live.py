"""Live push to browsers: ONE PostgreSQL connection LISTENs for the projection runner's commits and fans
each one out to every open page over server-sent events (GET /api/v1/board/events).

The runner sends `NOTIFY levee_projection, '{"position": .., "tables": [..], "events": {..}}'` inside its
batch transaction, so PostgreSQL delivers it at commit and never for a rolled-back batch: a page told
"position N" and refetching reads at least N. A message only says "something changed, refetch"; it carries
no complaint data, so a slow browser losing old messages loses nothing (its bounded queue keeps the newest).

The listening connection is opened in the background and re-opened when it drops: the API starts and
serves while PostgreSQL is down. Every stream is told when listening stops and starts again (`listening`
events), and pages refetch on the latter, because NOTIFYs sent meanwhile are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from services.api import keys
from services.api.auth import require_role, still_valid
from services.api.openapi import problem_responses
from services.api.pg_listen import listen_forever
from services.api.principal import PRINCIPAL

log = structlog.get_logger(__name__)

CHANNEL = "levee_projection"  # projections.runner.CHANNEL
HEARTBEAT = 15.0  # seconds between comment lines: proxies keep the stream open, pages see it is alive
QUEUE_SIZE = 16  # messages a slow stream may fall behind before its oldest are dropped
RETRY_MS = 2000
APPLICATION_NAME = "levee-live"  # how the listening connection shows in pg_stat_activity  # EventSource clients wait this long before reconnecting
STREAM_ROLES = ("operator", "command", "department", "press")  # the messages hold no personal data

Message = str | None  # None: the stream is over (shutdown)


def sse(event: str, data: dict[str, Any], *, event_id: int | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + json.dumps(data, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


class Hub:
    """The listening connection and the queues of the open streams."""

    def __init__(
        self, database_url: str, *, heartbeat: float = HEARTBEAT, queue_size: int = QUEUE_SIZE
    ) -> None:
        self.database_url = database_url
        self.heartbeat = heartbeat
        self.queue_size = queue_size
        self.position = 0
        self.listening = False
        self.dropped = 0
        self._streams: set[asyncio.Queue[Message]] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def streams(self) -> int:
        return len(self._streams)

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep_listening(), name="live-listen")

    async def stop(self) -> None:
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def subscribe(self) -> asyncio.Queue[Message]:
        queue: asyncio.Queue[Message] = asyncio.Queue(self.queue_size)
        self._streams.add(queue)
        log.debug("live_stream_opened", streams=len(self._streams))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Message]) -> None:
        self._streams.discard(queue)
        log.debug("live_stream_closed", streams=len(self._streams))

    def publish(self, message: Message) -> None:
        for queue in self._streams:
            if queue.full():
                # Every message says "refetch now": the newest one makes the older ones redundant.
                queue.get_nowait()
                self.dropped += 1
            queue.put_nowait(message)

    def close_streams(self) -> None:
        """End every stream (on shutdown, so the server need not wait for them)."""
        self._closing = True
        self.publish(None)

    def _on_notify(self, conn: object, pid: int, channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            position = int(data["position"])
        except (ValueError, KeyError, TypeError):
            log.warning("live_notify_unreadable", payload=payload[:200])
            return
        self.position = max(self.position, position)
        self.publish(sse("projection", data, event_id=position))

    def _set_listening(self, listening: bool) -> None:
        self.listening = listening
        if not self._closing:
            self.publish(sse("listening", {"listening": listening, "position": self.position}))

    async def _keep_listening(self) -> None:
        await listen_forever(
            self.database_url, CHANNEL, self._on_notify, application_name=APPLICATION_NAME,
            on_heard=self._heard, on_lost=self._lost,
        )  # fmt: skip

    async def _heard(self, conn: asyncpg.Connection) -> None:
        self.position = max(self.position, await _position(conn))
        self._set_listening(True)

    def _lost(self) -> None:
        if self.listening:
            self._set_listening(False)


async def _position(conn: asyncpg.Connection) -> int:
    """Where the read models are now; 0 before the projector has created its tables."""
    try:
        value = await conn.fetchval(
            "SELECT position FROM levee_read.projection_tracking WHERE name = 'read_models'"
        )
    except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
        return 0
    return int(value or 0)


HUB = web.AppKey("live_hub", Hub)


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the listening connection lives exactly as long as the app."""
    settings = app[keys.SETTINGS]
    assert settings.database_url is not None  # build_app checks it
    hub = Hub(settings.database_url)
    app[HUB] = hub
    hub.start()
    try:
        yield
    finally:
        await hub.stop()


async def _end_streams(app: web.Application) -> None:
    # on_shutdown runs before the server waits for handlers to finish: open streams end now, not after
    # aiohttp's shutdown timeout.
    if HUB in app:
        app[HUB].close_streams()


def add_routes(app: web.Application) -> None:
    app.cleanup_ctx.append(hub_context)
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/api/v1/board/events", board_events, name="board.events")


async def board_events(request: web.Request) -> web.StreamResponse:
    require_role(request[PRINCIPAL], STREAM_ROLES)
    hub = request.app[HUB]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # a buffering reverse proxy would hold the messages back
        }
    )
    queue = hub.subscribe()
    try:
        await response.prepare(request)
        hello = {"position": hub.position, "listening": hub.listening, "heartbeat_seconds": hub.heartbeat}
        await response.write(f"retry: {RETRY_MS}\n\n{sse('hello', hello)}".encode())
        loop = asyncio.get_running_loop()
        checked = loop.time()
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), hub.heartbeat)
            except TimeoutError:
                message = ": heartbeat\n\n"
            # The token again every heartbeat's time, busy or idle (a surge sends a message a second): once
            # revoked, the stream ends and the page reconnects to hear 401.
            if loop.time() - checked >= hub.heartbeat:
                checked = loop.time()
                if not await still_valid(request):
                    log.info("live_stream_ended_token_revoked")
                    break
            if message is None:
                break
            await response.write(message.encode())
    except ConnectionResetError:  # the browser went away (aiohttp's ClientConnectionResetError too)
        pass
    finally:
        hub.unsubscribe(queue)
    return response


OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/board/events": {"get": {
        "operationId": "board_events", "summary": "Server-sent events: the read models changed (refetch)",
        "tags": ["board"], "security": [{"bearer": []}],
        "description": "Roles: operator, command, department:<code>, press. `text/event-stream`: first a "
        "`hello` event ({position, listening, heartbeat_seconds}), then a `projection` event per committed "
        "batch ({position, tables, events}; `id` is the position), `listening` events when the server's "
        "PostgreSQL listener drops or returns (refetch on its return), and a comment line as a heartbeat. "
        "No complaint data is sent.",
        "responses": {
            "200": {"description": "The event stream", "content": {"text/event-stream": {"schema": {
                "type": "string"}}}},
            **problem_responses(401, 403),
        },
    }},
}  # fmt: skip
