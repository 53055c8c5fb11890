"""Applying the read models' SQL migrations to a schema, each once, in order.

Applied versions are recorded in the schema's own `schema_migrations`, so a rebuild schema carries its own
record and moves with its tables when it is swapped in. An advisory lock keeps two processes that start
together from applying the same file twice.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

LIVE_SCHEMA = "levee_read"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def migration_files() -> list[tuple[str, str]]:
    """(version, sql) of every packaged migration, in order; the version is the file name's stem."""
    folder = resources.files("projections").joinpath("migrations")
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".sql"))
    return [(name.removesuffix(".sql"), folder.joinpath(name).read_text(encoding="utf-8")) for name in names]


async def migrate(
    conn: asyncpg.Connection,
    schema: str = LIVE_SCHEMA,
    *,
    upto: str | None = None,
    only: Collection[str] | None = None,
) -> list[str]:
    """Apply what `schema` lacks (up to and including `upto`, and of `only` when given); return the versions
    applied now."""
    applied_now: list[str] = []
    lock = zlib.crc32(f"levee-migrate:{schema}".encode())
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock)
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quote_ident(schema)}.schema_migrations "
            "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {
            row["version"]
            for row in await conn.fetch(f"SELECT version FROM {quote_ident(schema)}.schema_migrations")
        }
        # SET LOCAL: the migration's unqualified names land in `schema`, and the session keeps its own path.
        await conn.execute(f"SET LOCAL search_path TO {quote_ident(schema)}")
        for version, sql in migration_files():
            if upto is not None and version > upto:
                break
            if version in done or (only is not None and version not in only):
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
            applied_now.append(version)
    if applied_now:
        log.info("read_models_migrated", schema=schema, versions=applied_now)
    return applied_now
