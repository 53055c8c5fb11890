"""Every row of every read model as text, to compare two runs of the projection."""

from __future__ import annotations

import asyncpg

from projections.migrate import quote_ident
from projections.read_models import TABLES


async def snapshot(conn: asyncpg.Connection, schema: str = "levee_read") -> dict[str, list[str]]:
    tables = {}
    for table in (*TABLES, "projection_tracking"):
        rows = await conn.fetch(f"SELECT t::text AS row FROM {quote_ident(schema)}.{table} t ORDER BY 1")
        tables[table] = [r["row"] for r in rows]
    return tables
