"""Staff API tokens in PostgreSQL: only a SHA-256 hash of each token is stored, never the token itself.

A token is `lvt_` + 32 random bytes (urlsafe base64): a hash without a salt is enough because the secret has
256 bits of entropy; nothing can be guessed from the table. Lookups are cached in memory for `CACHE_TTL`
seconds so intake and commands do not pay a PostgreSQL round trip per request, but only while the process
hears revocations: `revoke` (the API or `levee token revoke`) notifies `CHANNEL` in its transaction, and each
API process's `watch_revocations` empties its cache when the notification arrives. A revoked token is thus
refused at once everywhere; only a notification lost with a silently dead listening connection leaves it
working, for at most `CACHE_TTL` seconds. While not listening, every lookup asks PostgreSQL.

When PostgreSQL cannot answer at all (down, or stalled), staff carry on: a token this process verified within
`OUTAGE_GRACE` and heard no revocation of since is let in, so departments and command keep working a surge on
the event store while the database is restarted. Revoking needs PostgreSQL too, so none can be missed then but
one made in the moments before the outage while the listener was already lost: that is the risk accepted.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import structlog

from events.reference import Reference, load_reference
from events.store.tables import create_tables
from events.writers import SYSTEM_WRITERS
from services.api.keys import PG_DOWN
from services.api.pg_listen import listen_forever
from services.api.principal import STAFF_ROLES, Principal

log = structlog.get_logger(__name__)

PREFIX = "lvt_"
CACHE_TTL = 10.0  # seconds a looked-up token is trusted without asking PostgreSQL again
CACHE_SIZE = 10_000
LOOKUP_SECONDS = (
    5.0  # a token lookup PostgreSQL does not answer by then is a 503, not a request held for a minute
)
# Seconds after its last check a token still lets staff in while PostgreSQL cannot answer.
OUTAGE_GRACE = 300.0
# Seconds after PostgreSQL failed to answer a lookup during which confirmed tokens are let in without asking:
# asking again would hold every staff request for LOOKUP_SECONDS before the same answer. Longer than a 503's
# Retry-After (5 s) and a lookup: a client's retry must not wait out the lookup again (found by a review).
UNANSWERED_FOR = 15.0
CHANNEL = "levee_api_tokens"  # NOTIFY payload: the revoked token's id
MAX_NAME = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id    text PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    role        text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
"""


class RoleError(ValueError):
    """A role Levee does not know; the message lists the ones it does."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    token_id: str  # public: safe to log and to show in a list of tokens
    role: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


def check_role(role: str, reference: Reference | None = None) -> str:
    """The role as given if Levee knows it: operator, command, press or department:<known code>."""
    if role in STAFF_ROLES:
        return role
    kind, _, code = role.partition(":")
    if kind == "department" and code:
        ref = reference or load_reference()
        known = [d.code for d in ref.departments]
        if code in known:
            return role
        raise RoleError(f"no department {code!r}; known departments: {', '.join(known)}")
    raise RoleError(f"{role!r} is not a role; use one of {', '.join(STAFF_ROLES)} or department:<code>")


def check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"a token's name says who holds it: 1 to {MAX_NAME} characters")
    if name.casefold() in SYSTEM_WRITERS:
        # What staff do is recorded under the token's name: under a service's, a person's words would be taken
        # for the system's (kept after an erasure) and an escalation for a recorded missed deadline.
        raise ValueError(f"{name!r} is what a Levee service writes as its own name; name the person or desk")
    return name


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


class TokenStore:
    def __init__(self, pool: asyncpg.Pool, *, ttl: float = CACHE_TTL) -> None:
        self.pool = pool
        self.ttl = ttl
        self._cache: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._schema_ready = False
        self.listening = False  # hearing revocations: only then is the cache used
        self._generation = 0  # bumped whenever the cache is emptied: a lookup begun before may not fill it
        # Tokens PostgreSQL last confirmed, and when (monotonic): let in while it cannot answer (OUTAGE_GRACE).
        # Emptied by a revocation heard or made here, and when the listener is heard again; not when it is
        # lost (that is the outage itself).
        self._confirmed: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()
        self._unanswered_until = 0.0  # monotonic: see UNANSWERED_FOR

    async def ensure_schema(self) -> None:
        # Lazily, not at startup: the API starts (and says 503) while PostgreSQL is down.
        if not self._schema_ready:
            async with self.pool.acquire(timeout=LOOKUP_SECONDS) as conn:  # staff requests wait on it too
                await create_tables(conn, SCHEMA, timeout=LOOKUP_SECONDS)
            self._schema_ready = True

    async def create(self, role: str, name: str) -> tuple[str, TokenRecord]:
        """Mint a token; the caller gets the only copy of its secret."""
        role, name = check_role(role), check_name(name)
        await self.ensure_schema()
        token = new_token()
        token_id = "tok_" + secrets.token_hex(6)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "INSERT INTO api_tokens (token_id, token_hash, role, name) VALUES ($1, $2, $3, $4) "
                "RETURNING token_id, role, name, created_at, revoked_at",
                token_id, hash_token(token), role, name,
            )  # fmt: skip
        assert row is not None
        log.info("api_token_created", token_id=token_id, role=role)
        return token, TokenRecord(**dict(row))

    async def revoke(self, token_id: str) -> bool:
        """Revoke a live token; False when no live token has this id (unknown, or revoked already)."""
        await self.ensure_schema()
        async with self.pool.acquire() as conn, conn.transaction():
            status = await conn.execute(
                "UPDATE api_tokens SET revoked_at = now() WHERE token_id = $1 AND revoked_at IS NULL",
                token_id,
            )
            # Delivered on commit, to every API process listening (watch_revocations): each forgets at once.
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, token_id)
        self._forget(revoked=token_id)
        revoked = status.endswith(" 1")
        log.info("api_token_revoked", token_id=token_id, revoked=revoked)
        return revoked

    async def records(self) -> list[TokenRecord]:
        """Every token, oldest first: its id, role, name and dates, never the token or its hash."""
        await self.ensure_schema()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT token_id, role, name, created_at, revoked_at FROM api_tokens"
                " ORDER BY created_at, token_id"
            )
        return [TokenRecord(**dict(row)) for row in rows]

    async def watch_revocations(self, database_url: str) -> None:
        """Run until cancelled: listen on CHANNEL; the cache serves only while revocations are heard."""
        await listen_forever(
            database_url, CHANNEL, lambda _conn, _pid, _channel, token_id: self._forget(revoked=token_id),
            application_name="levee-tokens",
            on_heard=self._heard, on_lost=self._not_heard,
        )  # fmt: skip

    async def _heard(self, conn: asyncpg.Connection) -> None:
        self._forget()  # revocations missed while not listening
        self.listening = True

    def _not_heard(self) -> None:
        self.listening = False
        self._forget(keep_confirmed=True)

    def _forget(self, *, keep_confirmed: bool = False, revoked: str | None = None) -> None:
        """Empty the cache (revocations are rare: no need to find the one entry); and what PostgreSQL confirmed,
        all of it, or only the token `revoked` (by id: a revocation heard), or none of it (`keep_confirmed`)."""
        self._cache.clear()
        if revoked is not None:
            for digest in [d for d, (_, p) in self._confirmed.items() if p.token_id == revoked]:
                del self._confirmed[digest]
        elif not keep_confirmed:
            self._confirmed.clear()
        self._generation += 1

    async def lookup(self, token: str) -> Principal | None:
        """The principal a live token stands for, or None for an unknown or revoked one."""
        if not token.startswith(PREFIX) or len(token) > 100:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._cache.get(digest) if self.listening else None
        if cached is not None and cached[0] > now:
            return cached[1]
        generation = self._generation
        confirmed = self._recently_confirmed(digest, now)
        if confirmed is not None and now < self._unanswered_until:
            return confirmed
        try:
            await self.ensure_schema()
            async with self.pool.acquire(
                timeout=LOOKUP_SECONDS
            ) as conn:  # bounded: every request waits on it
                row = await conn.fetchrow(
                    "SELECT token_id, role, name FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
                    digest, timeout=LOOKUP_SECONDS,
                )  # fmt: skip
        except PG_DOWN:
            self._unanswered_until = time.monotonic() + UNANSWERED_FOR
            confirmed = self._recently_confirmed(digest, now)
            if confirmed is not None and generation == self._generation:
                return confirmed  # PostgreSQL cannot say: confirmed a moment ago, and no revocation since
            raise
        if row is None:
            # Misses are not cached: that would let anyone fill the cache with made-up tokens.
            self._cache.pop(digest, None)
            self._confirmed.pop(digest, None)
            return None
        principal = Principal(role=row["role"], name=row["name"], token_id=row["token_id"])
        if generation != self._generation:
            return principal  # a revocation may have been heard while asking: do not keep this answer
        _remember(self._confirmed, digest, (now, principal))
        if self.listening:
            _remember(self._cache, digest, (now + self.ttl, principal))
        return principal

    def _recently_confirmed(self, digest: bytes, now: float) -> Principal | None:
        confirmed = self._confirmed.get(digest)
        return confirmed[1] if confirmed is not None and now - confirmed[0] <= OUTAGE_GRACE else None


def _remember(
    memory: OrderedDict[bytes, tuple[float, Principal]], digest: bytes, entry: tuple[float, Principal]
) -> None:
    """Keep `entry` as the newest, and at most CACHE_SIZE entries."""
    memory[digest] = entry
    memory.move_to_end(digest)
    while len(memory) > CACHE_SIZE:
        memory.popitem(last=False)
