"""The command board's queries over a large read model: how long each panel and the whole board take.

    .venv/bin/python bench/board.py [--complaints 100000] [--repeat 3]

Starts its own PostgreSQL in a temporary directory (never DATABASE_URL: it fills the live read-model schema),
creates the read models with the project's migrations (up to 012, then the rest after filling, as a database
upgraded with data would get them: 013 fills its columns from the timelines) and fills them with SQL: the given
number of complaints (half closed, 30% P1 and escalated to level 2, 0.2% in the command queue, 60% linked to
80 incidents, overdue ones among them; each within ~0.6 km of one of 40 places, incidents k and k + 40 at the
same place, so `merge_suggestions` has 40 near pairs to rank) with ten timeline rows each. Then times every
query the board runs and `queries.board` as a whole, the mean of --repeat calls after one warm-up. The board is what command staff reload
on every projection commit during a surge (computed once per commit for every open page).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

# Run as a file, this script's folder comes first on sys.path and its own name would hide packages of the
# repository root: look there instead.
if Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from projections.migrate import LIVE_SCHEMA, migrate
from services.api.read_models import queries
from services.embedded.postgres_server import PostgresServer

BEFORE_COMMAND_SINCE = "012_public_status_incident"
FILL = """
INSERT INTO {s}.incidents (id, title, kind, status, declared_by, declared_at, updated_at)
SELECT md5('inc' || n)::uuid, 'Incident ' || n, 'flooding', 'investigating', 'triage',
       now() - n * interval '1 min', now()
FROM generate_series(1, 80) n;
INSERT INTO {s}.complaints (id, tracking_code, status, channel, category, district, level, department,
  incident_id, received_at, accept_by, resolve_by, escalation_level, version, updated_at, lat, lon)
SELECT md5('c' || n)::uuid, 'LV-' || n,
  CASE WHEN n % 2 = 0 THEN 'closed' WHEN n % 7 = 0 THEN 'accepted' ELSE 'dispatched' END, 'hotline', 'flooding',
  'riverside', CASE WHEN n % 10 < 3 THEN 'P1' ELSE 'P3' END,
  CASE WHEN n % 500 = 1 THEN 'command' ELSE 'drainage' END,
  md5('inc' || k)::uuid,
  now() - (n % 10000) * interval '1 s',
  CASE WHEN n % 2 = 1 THEN now() - (n % 300 - 150) * interval '1 min' END, NULL,
  CASE WHEN n % 10 < 3 THEN 2 ELSE 0 END, 10, now(),
  22.42 + p % 8 * 0.055 + (n % 101 - 50) * 0.0001, 113.72 + p / 8 * 0.12 + (n % 103 - 51) * 0.0001
FROM (SELECT n, k, COALESCE(k, n) % 40 AS p
      FROM (SELECT n, CASE WHEN n % 5 < 3 THEN 1 + (n * 7919) % 80 * (n % 3 + 1) % 80 END AS k
            FROM generate_series(1, $1::int) n) numbered) placed;
INSERT INTO {s}.complaint_timeline (complaint_id, version, at, kind, department, detail)
SELECT c.id, v, c.received_at + v * interval '1 s',
  CASE WHEN v = 5 AND c.escalation_level = 2 THEN 'ComplaintEscalated'
       WHEN v = 4 THEN 'ComplaintDispatched' ELSE 'ComplaintNoted' END,
  CASE WHEN v = 4 THEN c.department END,
  CASE WHEN v = 5 AND c.escalation_level = 2 THEN '{{"level": 2, "reason": "P1"}}'::jsonb
       WHEN v = 4 THEN '{{"reason": "route"}}'::jsonb ELSE '{{}}'::jsonb END
FROM {s}.complaints c, generate_series(1, 10) v;
"""


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def panels(conn: asyncpg.Connection, now: datetime) -> dict[str, Callable[[], Awaitable[Any]]]:
    return {
        "board_counts": lambda: queries.board_counts(conn, now=now),
        "unassigned_counts": lambda: queries.unassigned_counts(conn),
        "department_stats": lambda: queries.department_stats(conn, now=now),
        "incidents (by urgency)": lambda: queries.incidents_with_counts(conn, now=now, by_urgency=True),
        "merge_suggestions": lambda: queries.merge_suggestions(conn),
        "newest_p1": lambda: queries.newest_p1(conn, now=now),
        "escalated_to_command": lambda: queries.escalated_to_command(conn, now=now),
        "escalated_by_incident": lambda: queries.escalated_by_incident(conn, now=now),
        "escalated_individual": lambda: queries.escalated_individual(conn, now=now),
        "pending_extensions": lambda: queries.pending_extensions(conn),
        "dead_letters": lambda: queries.dead_letters(conn, limit=20),
        "overdue_list": lambda: queries.overdue_list(conn, now=now),
        "hotspots": lambda: queries.hotspots(conn, now=now),
        "map_points": lambda: queries.map_points(conn),
        "the whole board": lambda: queries.board(conn, now=now),
    }


async def measure(database_url: str, complaints: int, repeat: int) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        # Filled as the schema before migration 013 held them, then upgraded: 013 fills the columns it adds
        # (since when and why a case is with command) from the timelines, as the projector would have.
        await migrate(conn, LIVE_SCHEMA, upto=BEFORE_COMMAND_SINCE)
        started = time.monotonic()
        for statement in FILL.format(s=LIVE_SCHEMA).split(";")[:3]:
            args = (complaints,) if "$1" in statement else ()
            await conn.execute(statement, *args)
        await migrate(conn, LIVE_SCHEMA)
        await conn.execute("ANALYZE")
        say(f"filled {complaints:,} complaints and {complaints * 10:,} timeline rows in "
              f"{time.monotonic() - started:.1f} s")  # fmt: skip
        now = datetime.now(UTC)
        say(f"{'query':<26} {'ms (mean)':>10} {'rows':>6}")
        for name, call in panels(conn, now).items():
            await call()
            started = time.monotonic()
            for _ in range(repeat):
                result = await call()
            elapsed = (time.monotonic() - started) / repeat * 1000
            say(f"{name:<26} {elapsed:>10.0f} {len(result):>6}")
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="levee-bench-board-") as workdir:
        postgres = PostgresServer(Path(workdir) / "pg").start()
        with contextlib.ExitStack() as stack:
            stack.callback(postgres.stop)
            asyncio.run(measure(postgres.dsn, args.complaints, args.repeat))


if __name__ == "__main__":
    main()
