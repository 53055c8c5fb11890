"""Idempotency-Key: a retried POST gets the first answer, not a second complaint.

Survives API restarts and works across API processes because nothing is remembered in memory:
- the complaint id is derived from (who asks, the key), so every retry targets the same stream subject
  and the stream's expected-sequence-0 check refuses a second creation;
- a PostgreSQL row keyed by the same scope holds the request's fingerprint and the tracking code handed
  out, so a retry with another body is refused and a retry with the same body gets the same code. Rows are
  kept KEEP_INTAKE_KEYS (then pruned): a retry after that still finds its complaint and code in the stream,
  but the key with another body is answered as that complaint, not refused.
A row without its event (the process died, or NATS was down, between the two) is harmless: the retry
finds the row and stores the event then.

Staff commands (services/api/commands.py) keep no row: the last message of the change a keyed command makes
carries its `RequestMark` (a `Levee-Request` header, events/store/aggregates.py), and a retry finds it on
the aggregate it loads. The change and its mark are one write, guarded by the expected-sequence check, so a
racing twin of the request is refused, reloads, and finds the mark. Declaring an incident and drafting a
notice derive the new aggregate's id from the request, as intake does.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg

from events.store.aggregates import RequestMark
from events.store.gathering import Gatherer
from events.store.tables import create_tables
from services.api.principal import Principal
from services.api.problems import FieldError, Problem

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"  # on an answer that repeats the one an earlier try with the key got
NAMESPACE = uuid.UUID("5d0f3f7e-6a43-4f4e-9a55-3c1b1e0d2a71")  # never change: ids of past retries hang on it
_KEY = re.compile(r"^[\x21-\x7e]{8,255}$")
KEEP_INTAKE_KEYS = timedelta(days=7)  # a retry comes within minutes; a week covers a client's outage
PRUNE_SECONDS = 300.0  # the prune's one statement: a week of a surge's rows in one scan

SCHEMA = """
CREATE TABLE IF NOT EXISTS intake_idempotency (
    scope          text PRIMARY KEY,  -- sha256 of (principal, key); the key itself is not kept
    fingerprint    text NOT NULL,
    complaint_id   uuid NOT NULL,
    tracking_code  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
"""


@dataclass(frozen=True, slots=True)
class Claim:
    complaint_id: uuid.UUID
    tracking_code: str
    # Asked for with `claim(..., personal_key=)`: the key the complaint's personal data is sealed with (the
    # one given, or the one an earlier try stored first); None when not asked for, or erased.
    personal_key: bytes | None = None


def read_key(header: str | None) -> str | None:
    if header is None:
        return None
    if not _KEY.match(header):
        raise Problem(
            400, "Bad Idempotency-Key", "8 to 255 visible ASCII characters; a UUID is a good choice",
            code="bad_idempotency_key", errors=[FieldError(HEADER, "8 to 255 visible ASCII characters")],
        )  # fmt: skip
    return header


def scope(principal: Principal, key: str) -> str:
    """Keys are per caller: staff per token, the public share one space (use random keys, e.g. UUIDs)."""
    who = principal.token_id or principal.role
    return hashlib.sha256(f"{who}\n{key}".encode()).hexdigest()


def complaint_id_for(scope_hash: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, scope_hash)


def key_reused(new: str = "request") -> Problem:
    return Problem(
        422, "Idempotency-Key reused with another body",
        f"This Idempotency-Key was already used for a different request; use a new key for a new {new}.",
        code="idempotency_key_reused", errors=[FieldError(HEADER, "already used with a different body")],
    )  # fmt: skip


# -- staff commands: the mark in the stream ------------------------------------------------------------


def staff_request(
    principal: Principal, route: str, target: uuid.UUID | None, key: str, body: Mapping[str, Any]
) -> RequestMark:
    """The mark of a keyed staff request. Its scope is per token, route ("POST /api/v1/.../{id}/progress")
    and aggregate: the same key on another case or another command is another request. Its fingerprint is
    of the body as understood (after normalisation and defaults), as intake compares bodies."""
    who = principal.token_id or f"{principal.role}:{principal.name}"
    scope_hash = hashlib.sha256("\n".join((who, route, str(target or ""), key)).encode()).hexdigest()[:32]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return RequestMark(scope_hash, hashlib.sha256(canonical.encode()).hexdigest()[:16])


def created_id(mark: RequestMark) -> uuid.UUID:
    """The id of the aggregate a keyed creation makes: every retry targets one subject, and its
    expected-sequence-0 check refuses a second creation. (32 hex digits: never one of intake's 64.)"""
    return complaint_id_for(mark.scope)


def replays(requests: Mapping[str, str], asked: RequestMark | None) -> bool:
    """Whether an earlier try of `asked` made its change (`requests`: those an aggregate's history carries);
    422 when the key went with another body there."""
    if asked is None:
        return False
    seen = requests.get(asked.scope)
    if seen is None:
        return False
    if seen != asked.fingerprint:
        raise key_reused()
    return True


# The OpenAPI parameter and answer header of an operation that honours the key.
PARAMETER: dict[str, Any] = {
    "name": HEADER, "in": "header", "required": False,
    "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{8,255}$"},
    "description": "Same key and body: the first answer (the state as it is now), nothing stored twice, and "
                   f"{REPLAYED}: true. Another body: 422 idempotency_key_reused. Keys are per token and route.",
}  # fmt: skip
REPLAYED_HEADER: dict[str, Any] = {
    "description": "true when an earlier request with this Idempotency-Key had made the change",
    "schema": {"type": "string", "enum": ["true"]},
}


# The claim, and the complaint's personal-data key put as events/store/keys.py `PersonalKeyStore.put` does,
# in one statement: a keyed complaint with a reporter costs one round trip to PostgreSQL, not two. A key goes
# in only for a request whose body the claim already held does not contradict (a retry with another body is
# refused, and must not give a complaint without personal data a key). No deadlock between API processes: each
# table's rows go in key order, and the tables in one order (claims, then keys: the UNION ALL reads `claimed`
# first). Any other statement writing both tables must keep that order.
_CLAIM = (
    "INSERT INTO intake_idempotency (scope, fingerprint, complaint_id, tracking_code) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::text[]) "
    "ON CONFLICT (scope) DO NOTHING RETURNING scope, fingerprint, tracking_code"
)
_CLAIM_AND_PUT = (
    f"WITH claimed AS ({_CLAIM}), "
    "put AS (INSERT INTO personal_data_keys (complaint_id, key) SELECT p.complaint_id, p.key "
    "FROM unnest($5::uuid[], $6::bytea[], $7::text[], $8::text[]) AS p(complaint_id, key, scope, fingerprint) "
    "WHERE NOT EXISTS (SELECT 1 FROM intake_idempotency i WHERE i.scope = p.scope AND i.fingerprint <> p.fingerprint) "
    "ON CONFLICT (complaint_id) DO NOTHING RETURNING complaint_id, key) "
    "SELECT scope, fingerprint, tracking_code, NULL::uuid AS complaint_id, NULL::bytea AS key FROM claimed "
    "UNION ALL SELECT NULL, NULL, NULL, complaint_id, key FROM put"
)

_Item = tuple[str, str, uuid.UUID, str, bytes | None]  # scope, fingerprint, complaint id, code, key to put
_Held = tuple[str | None, str | None, bytes | None]  # the stored fingerprint, tracking code and key
_GONE: _Held = (None, None, None)  # the claim's row was pruned meanwhile


class IdempotencyStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        # Concurrent claims share one statement: in a surge every drill and app request carries a key.
        self._claims: Gatherer[_Item, _Held] = Gatherer(self._claim_many)

    async def create_schema(self) -> None:
        async with self.pool.acquire() as conn:
            await create_tables(conn, SCHEMA)

    async def prune(self, older_than: timedelta) -> int:
        """Delete the rows claimed before `older_than` ago; return how many. One statement, one scan of the
        table (no index on `created_at`: every claim would pay for one), allowed PRUNE_SECONDS (intake's
        statements get a few). A retry after that still gets its complaint and code: the stream holds them."""
        async with self.pool.acquire() as conn:
            done = await conn.execute(
                "DELETE FROM intake_idempotency WHERE created_at < now() - $1::interval",
                older_than, timeout=PRUNE_SECONDS,
            )  # fmt: skip
        return int(done.rsplit(" ", 1)[1])

    async def claim(
        self, scope_hash: str, fingerprint: str, tracking_code: str, *, personal_key: bytes | None = None
    ) -> Claim:
        """The claim for this scope: ours if first, else the earlier one (a different body is refused).

        With `personal_key`, the complaint's key for its personal data is stored in the same statement,
        unless it has one: the claim answers the key it has (None if erased). The key table needs its schema
        (`PersonalKeyStore.create_schema`)."""
        complaint_id = complaint_id_for(scope_hash)
        item = (scope_hash, fingerprint, complaint_id, tracking_code, personal_key)
        stored_fingerprint, stored_code, stored_key = await self._claims.submit(item)
        if stored_fingerprint is None:  # pruned between the claim's insert and its read: claimed afresh
            stored_fingerprint, stored_code, stored_key = await self._claims.submit(item)
        if stored_fingerprint is None:
            raise RuntimeError(f"the idempotency claim {scope_hash[:12]} vanished twice")
        if stored_fingerprint != fingerprint:
            raise key_reused("complaint")
        return Claim(complaint_id, str(stored_code), stored_key)

    async def _claim_many(self, items: list[_Item]) -> list[_Held]:
        """(fingerprint, tracking code, key) held for each item: its own if first, else the earlier ones."""
        scopes = [item[0] for item in items]
        claims = sorted((item[:4] for item in items), key=lambda claim: claim[0])
        # Racing twins (one id) in one batch: the claim inserted first wins (the stable sort keeps their order),
        # and only a twin with its body puts the key: the guard in the statement cannot see a claim row the
        # same statement inserts, and an anonymous complaint must not get a key from a refused twin.
        winning: dict[str, str] = {}
        for scope_hash, fingerprint, *_ in items:
            winning.setdefault(scope_hash, fingerprint)
        first: dict[uuid.UUID, tuple[bytes, str, str]] = {}
        for scope_hash, fingerprint, complaint_id, _, key in items:
            if key is not None and fingerprint == winning[scope_hash]:
                first.setdefault(complaint_id, (key, scope_hash, fingerprint))
        puts = sorted(first.items())
        held: dict[str, tuple[str, str]] = {}
        keys: dict[uuid.UUID, bytes | None] = {}
        async with self.pool.acquire() as conn:
            columns = [list(column) for column in zip(*claims, strict=True)]
            if puts:
                columns += [
                    [complaint_id for complaint_id, _ in puts],
                    *map(list, zip(*(p for _, p in puts), strict=True)),
                ]
            for row in await conn.fetch(_CLAIM_AND_PUT if puts else _CLAIM, *columns):
                if row["scope"] is not None:
                    held[row["scope"]] = (row["fingerprint"], row["tracking_code"])
                else:
                    keys[row["complaint_id"]] = bytes(row["key"])
            # Separate statements: one started before a racing insert committed would not see its row.
            earlier = [scope_hash for scope_hash in scopes if scope_hash not in held]
            if earlier:
                rows = await conn.fetch(
                    "SELECT scope, fingerprint, tracking_code FROM intake_idempotency WHERE scope = ANY($1::text[])",
                    earlier,
                )
                held |= {row["scope"]: (row["fingerprint"], row["tracking_code"]) for row in rows}
            # Keyed before (or refused: another body's claim; the claim then answers 422 anyway).
            # Every keyed item's complaint, not only those put now: a retry whose twin of another body came first
            # in this statement put nothing, and its key is the one stored before.
            keyed_before = list({item[2] for item in items if item[4] is not None and item[2] not in keys})
            if keyed_before:
                rows = await conn.fetch(
                    "SELECT complaint_id, key FROM personal_data_keys WHERE complaint_id = ANY($1::uuid[])",
                    keyed_before,
                )
                keys |= {
                    row["complaint_id"]: None if row["key"] is None else bytes(row["key"]) for row in rows
                }
        # A key asked for is there (or erased, None). A claim row is missing only when the prune deleted it (a
        # week old) between the insert that found it and the read: (None, None, None), and `claim` asks again.
        return [
            (*held[item[0]], keys.get(item[2]) if item[4] is not None else None) if item[0] in held else _GONE
            for item in items
        ]

    async def redraw(self, scope_hash: str, taken: str, fresh: str) -> str:
        """The tracking code the claim holds once `taken` (found claimed by another complaint) is replaced:
        `fresh`, or the code a racing twin of this request put there first."""
        async with self.pool.acquire() as conn:
            code = await conn.fetchval(
                "UPDATE intake_idempotency SET tracking_code = $3 WHERE scope = $1 AND tracking_code = $2 "
                "RETURNING tracking_code",
                scope_hash, taken, fresh,
            )  # fmt: skip
            if code is None:
                code = await conn.fetchval(
                    "SELECT tracking_code FROM intake_idempotency WHERE scope = $1", scope_hash
                )
        if code is None:
            raise RuntimeError(f"the idempotency claim {scope_hash[:12]} vanished")  # pruned that very moment
        return str(code)
