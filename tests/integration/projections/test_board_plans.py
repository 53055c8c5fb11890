"""The board's panels read their own indexes (migrations 019, 021 and 023). A panel's SQL and its partial index's
expression and predicate are written apart (queries.py, the migration); should they drift, PostgreSQL falls
back to reading every row with command and sorting it, the answers stay right and only a long surge's board
slows down, which no other test would see. So: plan each panel's statements over a few thousand cases, with
sequential scans priced out, and look for the index in the plan."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from services.api.read_models import queries

# A surge's shape in miniature: half closed, a third escalated to command, a few in the command queue,
# most linked to one of 40 incidents, some resolved and answered, one in a hundred rejected.
FILL = """
INSERT INTO levee_read.incidents (id, title, kind, status, declared_by, declared_at, updated_at)
SELECT md5('inc' || n)::uuid, 'Incident ' || n, 'flooding', 'investigating', 'triage', now(), now()
FROM generate_series(1, 40) n;
INSERT INTO levee_read.complaints (id, tracking_code, status, channel, category, district, level, department,
  incident_id, received_at, dispatched_at, accepted_at, resolved_at, resolved_by, accept_by, resolve_by,
  escalation_level, escalated_at, queued_at, queued_version, escalated_version, version, updated_at, lat, lon)
SELECT md5('c' || n)::uuid, 'LV-' || n,
  CASE WHEN n % 2 = 0 THEN 'closed' WHEN n % 7 = 0 THEN 'accepted' ELSE 'dispatched' END, 'hotline', 'flooding',
  'riverside', CASE WHEN n % 10 < 3 THEN 'P1' ELSE 'P3' END,
  CASE WHEN n % 100 = 1 THEN 'command' ELSE 'drainage' END,
  CASE WHEN n % 5 < 4 THEN md5('inc' || n % 40)::uuid END,
  now() - n * interval '1 s', now() - n * interval '1 s', now(),
  CASE WHEN n % 2 = 0 THEN now() END, CASE WHEN n % 2 = 0 THEN 'drainage' END,
  CASE WHEN n % 2 = 1 THEN now() - (n % 300 - 150) * interval '1 min' END, NULL,
  CASE WHEN n % 3 = 0 THEN 2 ELSE 0 END, now() - n * interval '1 s',
  CASE WHEN n % 100 = 1 THEN now() END, CASE WHEN n % 100 = 1 THEN 3 END, CASE WHEN n % 3 = 0 THEN 4 END,
  10, now(), 22.5 + n % 40 * 0.01, 114.0 + n % 40 * 0.01
FROM generate_series(1, 6000) n;
UPDATE levee_read.complaints SET status = 'rejected', closed_at = received_at, department = NULL, level = NULL
WHERE right(tracking_code, 2) = '13'
"""

# Each panel, and the indexes its statements must be able to read (with nothing else to choose from, a plan
# that cannot use them scans a table or another index).
PANELS: dict[str, tuple[str, ...]] = {
    "escalated_to_command": ("complaints_with_command",),
    "escalated_individual": ("complaints_with_command_alone",),
    "escalated_by_incident": ("complaints_with_command",),
    "unassigned_counts": ("complaints_with_command",),
    "department_stats": ("complaints_department_status", "complaints_resolved_by"),
    "incidents_with_counts": ("complaints_incident",),
    "overdue_list": ("complaints_accept_by", "complaints_resolve_by"),
    "rejected_recently": ("complaints_rejected",),  # migration 023
}

# Panels that list the first few of a long order take it from the index, not from sorting every row: the sorts
# their plans may have (escalated_individual and overdue_list sort the few rows each part took off an index).
SORTS = {"escalated_to_command": 0, "escalated_individual": 1, "overdue_list": 1, "rejected_recently": 0}


class Planning:
    """A connection for `queries` that plans each statement (EXPLAIN) before running it, and keeps the plans."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.plans: list[str] = []

    async def _plan(self, sql: str, args: tuple[Any, ...]) -> None:
        rows = await self.conn.fetch(f"EXPLAIN {sql}", *args)
        self.plans.append("\n".join(row[0] for row in rows))

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        await self._plan(sql, args)
        return await self.conn.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        await self._plan(sql, args)
        return await self.conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        await self._plan(sql, args)
        return await self.conn.fetchval(sql, *args)


@pytest.fixture
async def filled(pg: asyncpg.Connection) -> asyncpg.Connection:
    for statement in FILL.split(";"):
        await pg.execute(statement)
    await pg.execute("VACUUM ANALYZE levee_read.complaints")  # all-visible, as autovacuum keeps it (019)
    await pg.execute("SET enable_seqscan = off")
    return pg


@pytest.mark.parametrize("panel", sorted(PANELS))
async def test_each_board_panel_reads_its_index(filled: asyncpg.Connection, panel: str) -> None:
    planning = Planning(filled)
    panel_query = getattr(queries, panel)
    if panel == "unassigned_counts":
        await panel_query(planning)
    else:
        await panel_query(planning, now=datetime.now(UTC))
    plans = "\n".join(planning.plans)
    for index in PANELS[panel]:
        assert re.search(rf"(Scan using|Index Scan on) {index}\b", plans), plans
    assert "Seq Scan on complaints" not in plans, plans
    if panel in SORTS:
        assert plans.count("Sort Key:") == SORTS[panel], plans
