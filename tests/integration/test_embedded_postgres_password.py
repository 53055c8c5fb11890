"""The embedded PostgreSQL with a password (as `levee up` starts it): TCP connections must give it, and a data
directory made before passwords (initdb's trust for every connection) takes one at its next start, data kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from services.embedded.postgres_server import PostgresServer

PASSWORD = "it's/a@pass:word%"  # every character a URL or an SQL literal must escape


async def test_a_directory_made_before_passwords_takes_one_at_its_next_start_and_keeps_its_data(
    tmp_path: Path,
) -> None:
    before = await asyncio.to_thread(PostgresServer(tmp_path / "pg").start)
    try:
        conn = await asyncpg.connect(before.dsn)
        await conn.execute("CREATE TABLE kept (mark text); INSERT INTO kept VALUES ('before the password')")
        await conn.close()
    finally:
        await asyncio.to_thread(before.stop)

    after = await asyncio.to_thread(PostgresServer(tmp_path / "pg", password=PASSWORD).start)
    try:
        for stranger in ("postgres", "postgres:wrong"):
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(f"postgresql://{stranger}@127.0.0.1:{after.port}/levee")
        conn = await asyncpg.connect(after.dsn)
        try:
            assert await conn.fetchval("SELECT mark FROM kept") == "before the password"
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(after.stop)
