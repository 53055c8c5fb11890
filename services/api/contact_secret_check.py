"""Whether every API replica hashes contacts with the same secret.

Intake hashes each reporter's contact with the contact secret (LEVEE_CONTACT_SECRET, or `levee up`'s
`<data dir>/contact_secret`); triage finds a reporter's earlier reports, and the operator page a caller's
history, by that hash. A replica started with another secret (a rotation rolled out halfway, a Secret edited by
hand, a data directory restored without its `contact_secret`) files every caller under other hashes: duplicates
go unseen and histories split, and nothing fails. So the first secret to write keeps a check value (an HMAC of
a fixed text, which tells nothing about the secret or any number) in PostgreSQL; each API compares its own at
its first write, and on a mismatch says so at error level and on `/metrics` (LeveeContactSecretMismatch), and
goes on taking complaints: a split history is better than a hotline that stops.
docs/operations.md, section 13 says how to tell which secret is right, and how to accept a new one.
"""

from __future__ import annotations

import hashlib
import hmac

import asyncpg
import structlog
from prometheus_client import Gauge

from events.store.tables import create_tables

log = structlog.get_logger(__name__)

TABLE = "contact_secret_check"
_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    check_value text NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
)
"""
_CHECKED_TEXT = b"levee contact secret check, version 1"  # never a contact: no hash of a number can equal it

MISMATCH = Gauge(
    "levee_contact_secret_mismatch",
    "1 when this API's contact secret is not the one the database's first complaints were hashed with "
    "(duplicates and caller histories split between them), 0 when it is",
)


def check_value(secret: bytes) -> str:
    return hmac.new(secret, _CHECKED_TEXT, hashlib.sha256).hexdigest()


async def compare(conn: asyncpg.Connection, secret: bytes | None) -> None:
    """Record `secret`'s check value when none is; set MISMATCH, and log an error, when the one recorded is not
    this API's: another secret, or none at all beside one (this API stores no contact hash then, and its
    callers' repeats go unseen). An API with no secret records nothing."""
    await create_tables(conn, _DDL)
    if secret is None:
        recorded = await conn.fetchval(f"SELECT check_value FROM {TABLE}")
        differs, event = recorded is not None, "contact_secret_missing_beside_others"
    else:
        ours = check_value(secret)
        recorded = await conn.fetchval(
            f"INSERT INTO {TABLE} (check_value) VALUES ($1) ON CONFLICT (only_row) DO UPDATE "
            f"SET check_value = {TABLE}.check_value RETURNING check_value",
            ours,
        )
        differs, event = not hmac.compare_digest(recorded, ours), "contact_secret_differs"
    MISMATCH.set(1 if differs else 0)
    if differs:
        log.error(
            event,
            effect="this API files callers under other contact hashes (or none) than the one that wrote first: "
            "duplicates go unseen and caller histories split until every replica has the same LEVEE_CONTACT_SECRET",
            runbook="docs/operations.md, section 13",
        )
