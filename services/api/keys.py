"""Typed keys for what the API's application holds, and the handles they point to.

Handlers read `request.app[keys.NATS].store()` and `request.app[keys.PG_POOL]`; only app.py puts them there.
A handler may put `request[keys.LOG_FIELDS]`: more fields for the request's log line.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import asyncpg
from aiohttp import web
from nats.aio.client import Client as NATS

from events.incident import Incident
from events.store import JetStreamEventStore
from events.store.held import HeldAggregates
from events.store.stream import StreamSpec
from events.store.write_health import WriteHealth
from services.settings import Settings, without_passwords

# What PostgreSQL being down, restarting or unreachable looks like to asyncpg: answered as a 503.
PG_DOWN = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
INTAKE_STATEMENT_SECONDS = 5.0  # a key or an idempotency row; they take milliseconds
READ_STATEMENT_SECONDS = 60.0  # a read model query: the board, a queue, a report
READ_SECONDS = 25.0  # a request's reads all together (read_routes.reading): under a proxy's usual 60 s
_PG_SHORT_OF = {  # SQLSTATE class 53, insufficient resources: PostgreSQL answers, but cannot do the work
    asyncpg.DiskFullError: "has no disk space left",
    asyncpg.OutOfMemoryError: "is out of memory",
    asyncpg.TooManyConnectionsError: "refuses more connections",
}


# After one of intake's statements got no answer in time, intake answers 503 at once for this long (its 503s say
# Retry-After: 5, so a client's retry falls inside): each request waiting out the same timeout held an operator
# on the phone 10-20 s per try while PostgreSQL hung (found by a review of outages).
INTAKE_FAIL_FAST_SECONDS = 10.0


class PgStalled(TimeoutError):
    """PostgreSQL did not answer intake a moment ago: not asked again yet."""


@dataclass
class StallGate:
    """Whether intake asks PostgreSQL now, or answers at once that it did not answer a moment ago."""

    seconds: float = INTAKE_FAIL_FAST_SECONDS
    _until: float = 0.0

    def check(self) -> None:
        """PgStalled within `seconds` of a statement PostgreSQL did not answer in time. Once they passed, one
        request asks (the others are answered at once meanwhile, as before) until it says how PostgreSQL is."""
        now = time.monotonic()
        if (left := self._until - now) > 0:
            raise PgStalled(f"PostgreSQL did not answer within {INTAKE_STATEMENT_SECONDS:g} s a moment ago "
                            f"(asked again in {math.ceil(left)} s)")  # fmt: skip
        if self._until:
            self._until = now + self.seconds  # this one is the probe: `opened` or `note` says what it found

    def opened(self) -> None:
        """A statement was answered: every request asks again."""
        self._until = 0.0

    def note(self, exc: BaseException) -> None:
        """Record a failed statement: a timeout (a hung server) closes the gate; a refusal is quick anyway."""
        if isinstance(exc, TimeoutError) and not isinstance(exc, PgStalled):
            self._until = time.monotonic() + self.seconds


def pg_trouble(exc: BaseException) -> str:
    """What a PG_DOWN error says about PostgreSQL, for a 503's detail: a full disk is not "unreachable"."""
    if isinstance(exc, PgStalled):
        return str(exc)
    for kind, what in _PG_SHORT_OF.items():
        if isinstance(exc, kind):
            return f"PostgreSQL {what} ({type(exc).__name__})"
    if isinstance(exc, asyncpg.InsufficientResourcesError):
        return f"PostgreSQL is short of resources ({type(exc).__name__})"
    if isinstance(exc, TimeoutError):
        return f"PostgreSQL did not answer within {INTAKE_STATEMENT_SECONDS:g} s (TimeoutError)"
    return f"PostgreSQL is unreachable ({type(exc).__name__})"


class DependencyUnavailable(Exception):
    """NATS or PostgreSQL cannot serve this request right now; the API answers 503 with Retry-After."""

    def __init__(self, dependency: str, detail: str) -> None:
        super().__init__(f"{dependency}: {detail}")
        self.dependency = dependency
        self.detail = detail


@dataclass
class NatsLink:
    """The API's NATS connection, opened in the background: the app serves (and says 503) before it exists."""

    url: str
    spec: StreamSpec
    client: NATS | None = None
    stream_ready: bool = False
    problem: str = "not connected yet, retrying (nats_error log lines say why)"
    write_health: WriteHealth = field(default_factory=WriteHealth)  # what the last appends met
    # Incidents as last read from this stream, for every store of the process (events/store/held.py).
    held: HeldAggregates = field(default_factory=lambda: HeldAggregates(kinds=(Incident,)))

    @property
    def shown_url(self) -> str:
        """The URL as answers and logs may show it: a service's NATS password is in its URL (deploy/)."""
        return without_passwords(self.url)

    def store(self, *, timeout: float = 5.0) -> JetStreamEventStore:
        if self.client is None or not self.stream_ready:
            raise DependencyUnavailable("NATS", f"{self.shown_url}: {self.problem}")
        if not self.client.is_connected:
            raise DependencyUnavailable("NATS", f"{self.shown_url}: connection lost, reconnecting")
        return JetStreamEventStore(self.client, self.spec, timeout=timeout, health=self.write_health)


@dataclass
class Serving:
    """Whether this process is stopping: /readyz says so while it drains (app.run)."""

    draining: bool = False


SETTINGS = web.AppKey("settings", Settings)
SERVING = web.AppKey("serving", Serving)
# What a handler adds to its request's one log line (app.request_context writes it): ids, never personal data.
LOG_FIELDS = web.RequestKey("log_fields", dict)
NATS_LINK = web.AppKey("nats_link", NatsLink)
PG_POOL = web.AppKey("pg_pool", asyncpg.Pool)
