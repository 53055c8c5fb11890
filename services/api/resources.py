"""The writers intake shares: one GroupCommitter, one AggregateStore, the personal-key and idempotency tables.

NATS and PostgreSQL may be down when the API starts, so each writer is made on first use, then kept for
the life of the app. The cleanup context owns them all: on shutdown the committer flushes what it
accepted (an answered 201 is never dropped) before app.py closes the NATS connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field

import asyncpg
import structlog
from aiohttp import web

from events.mapper import make_mapper
from events.reference import Reference, load_reference
from events.store.aggregates import AggregateStore
from events.store.group_commit import GroupCommitter
from events.store.keys import PersonalKeyStore
from services.api import contact_secret_check, idempotency, keys, ratelimit

log = structlog.get_logger(__name__)

WRITE_TIMEOUT = 5.0  # seconds a NATS append may take before it is resolved as ambiguous
PRUNE_EVERY_SECONDS = 3600.0


@dataclass
class Writers:
    link: keys.NatsLink
    pool: asyncpg.Pool
    reference: Reference
    contact_secret: bytes | None
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    _aggregates: AggregateStore | None = None
    _schema_ready: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    key_store: PersonalKeyStore = field(init=False)
    requests: idempotency.IdempotencyStore = field(init=False)
    pg_gate: keys.StallGate = field(default_factory=keys.StallGate)  # intake's statements, after a timeout

    def __post_init__(self) -> None:
        self.key_store = PersonalKeyStore(self.pool)
        self.requests = idempotency.IdempotencyStore(self.pool)

    async def aggregates(self) -> AggregateStore:
        """The repository whose saves go through group commit; DependencyUnavailable while NATS is not."""
        store = self.link.store(timeout=WRITE_TIMEOUT)  # raises while NATS is down
        if self._aggregates is None:
            async with self._lock:
                if self._aggregates is None:
                    committer = await self.stack.enter_async_context(GroupCommitter(store))
                    self._aggregates = AggregateStore(
                        store, make_mapper(), appender=committer, held=self.link.held
                    )
        return self._aggregates

    async def tables(self) -> None:
        """Create the personal-key and idempotency tables once, on the first write (PostgreSQL may start late),
        and check the contact secret against the one that wrote first (contact_secret_check)."""
        if self._schema_ready:
            return
        async with self._lock:
            if not self._schema_ready:
                await self.key_store.create_schema()
                await self.requests.create_schema()
                async with self.pool.acquire() as conn:
                    await contact_secret_check.compare(conn, self.contact_secret)
                self._schema_ready = True


WRITERS = web.AppKey("writers", Writers)


async def writers(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: append after nats_link, so it closes before it."""
    settings = app[keys.SETTINGS]
    if settings.contact_hash_secret is None:
        log.warning("contact_secret_missing", effect="complaints are stored without a contact hash")
    # Intake's own pool (min_size=0: the API starts while PostgreSQL is down). Its statements (a key, an
    # idempotency row, the two tables) leave no session state behind (no LISTEN, advisory lock or cursor;
    # the one SET is made as the connection opens), so a released connection skips asyncpg's reset round
    # trip (UNLISTEN *, RESET ALL, ...), which cost a tenth of each batch of keys; asyncpg still rolls back
    # a transaction left open.
    # That SET plans each statement for its values and the tables as they are now. A plan kept from when the
    # idempotency table was nearly empty scanned all of it for every claim, so a keyed complaint cost more
    # the more had come before: 1.2-1.5 ms a claim at 12,000 rows against 0.5 ms planned afresh, and
    # PostgreSQL's CPU for `bench/intake.py --requests 30000 --keyed` 3.5 s against 1.8 s. A statement, not
    # a startup parameter, which a pooler such as PgBouncer may refuse.
    # command_timeout: a statement PostgreSQL does not answer (a lock, a stalled disk) fails, and its
    # complaints get a 503, instead of every complaint with a reporter waiting behind it for ever.
    pool = await asyncpg.create_pool(
        settings.database_url, min_size=0, max_size=10, timeout=5.0, reset=_nothing_to_reset,
        init=_plan_each_time, command_timeout=keys.INTAKE_STATEMENT_SECONDS,
    )  # fmt: skip
    reference = load_reference(settings.reference_file)  # LEVEE_REFERENCE, or the packaged data
    owned = Writers(app[keys.NATS_LINK], pool, reference, settings.contact_hash_secret)
    app[WRITERS] = owned
    ratelimit.install(app)
    pruning = asyncio.create_task(prune_intake_keys(owned), name="prune_intake_keys")
    try:
        async with owned.stack:
            yield
    finally:
        pruning.cancel()
        with suppress(asyncio.CancelledError):  # it catches every error of its own
            await pruning
        await pool.close()


async def prune_intake_keys(owned: Writers) -> None:
    """Every PRUNE_EVERY_SECONDS, the Idempotency-Key rows older than idempotency.KEEP_INTAKE_KEYS: one a
    complaint, they would pile up for good (a surge's 100,000 complaints, 100,000 rows). Every API process
    runs it; a second one at the same time finds nothing left to delete."""
    while True:
        await asyncio.sleep(PRUNE_EVERY_SECONDS)
        try:
            await owned.tables()
            pruned = await owned.requests.prune(idempotency.KEEP_INTAKE_KEYS)
        except Exception as exc:  # PostgreSQL down or anything else: said, and tried again next time
            log.warning("intake_keys_not_pruned", error=repr(exc)[:500])
            continue
        if pruned:
            log.info("intake_keys_pruned", rows=pruned, older_than_days=idempotency.KEEP_INTAKE_KEYS.days)


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    return None


async def _plan_each_time(conn: asyncpg.Connection) -> None:
    await conn.execute("SET plan_cache_mode = force_custom_plan")
