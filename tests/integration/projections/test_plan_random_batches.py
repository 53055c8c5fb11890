"""Random batches of row ops leave PostgreSQL's table as they leave it run one by one, however the planner
regroups them: new rows held as values, an existing row's changes merged into one read and one write, a merge
ended by a statement folding does not understand, lone changes left as statements, missing rows, and a
duplicate key that fails the whole batch."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import asyncpg
import pytest

from projections.fold import Folding, compile_update
from projections.ops import Derive, Op, SqlOp
from projections.plan import plan
from projections.runner import execute

TABLE = "CREATE TABLE t (id integer PRIMARY KEY, s text, n integer NOT NULL DEFAULT 0, d text, v integer DEFAULT 0)"
INSERT = "INSERT INTO t (id, s) VALUES ($1, $2)"
UNDERSTOOD = (
    "UPDATE t SET s = $2, v = v + 1 WHERE id = $1",
    "UPDATE t SET n = n + 1 WHERE id = $1",
    "UPDATE t SET s = CASE WHEN s = 'a' THEN 'b' ELSE s END WHERE id = $1",
)
NOT_UNDERSTOOD = "UPDATE t SET n = n * $2 WHERE id = $1"
IDS = range(5)


def note(values: Mapping[str, Any], arg: int) -> dict[str, Any]:
    return {"d": f"{values['d'] or ''}|{arg}"}


def note_and_double(values: Mapping[str, Any], arg: int) -> dict[str, Any]:
    return {"d": f"{values['d'] or ''}/{arg}", "n": values["n"] * 2 + arg}


def random_ops(rng: random.Random) -> list[Op]:
    ops: list[Op] = []
    for _ in range(rng.randint(1, 40)):
        row, kind = rng.choice(IDS), rng.random()
        if kind < 0.1:
            ops.append(SqlOp("t", INSERT, (row, rng.choice("ab")), key=("t", row)))
        elif kind < 0.6:
            sql = rng.choice(UNDERSTOOD)
            ops.append(SqlOp("t", sql, (row, rng.choice("ab")) if "$2" in sql else (row,), key=("t", row)))
        elif kind < 0.7:
            ops.append(SqlOp("t", NOT_UNDERSTOOD, (row, 3), key=("t", row)))
        else:
            columns, change = rng.choice([(("d",), note), (("d", "n"), note_and_double)])
            ops.append(Derive("t", row, columns, change, rng.randint(0, 9)))
    return ops


async def outcome(pg: asyncpg.Connection, schema: str, rows: list[tuple[Any, ...]], steps: Any) -> object:
    """The table after `steps` on `rows`, or the error that rolled the batch back."""
    async with pg.transaction():
        await pg.execute(f"SET LOCAL search_path TO {schema}")
        await pg.execute("TRUNCATE t")
        await pg.executemany("INSERT INTO t (id, s, n) VALUES ($1, $2, $3)", rows)
    try:
        async with pg.transaction():
            await pg.execute(f"SET LOCAL search_path TO {schema}")
            await execute(pg, steps)
    except asyncpg.UniqueViolationError as exc:
        return type(exc).__name__
    return [tuple(r) for r in await pg.fetch(f"SELECT * FROM {schema}.t ORDER BY id")]


async def test_random_batches_give_the_table_the_ops_give_one_by_one(pg: asyncpg.Connection) -> None:
    for schema in ("one_by_one", "regrouped"):
        await pg.execute(f"CREATE SCHEMA {schema}; SET search_path TO {schema}; {TABLE}; RESET search_path")
    folding = await Folding.load(pg, "regrouped")
    merged = 0
    for seed in range(150):
        rng = random.Random(seed)
        rows = [(i, rng.choice("ab"), rng.randint(0, 3)) for i in IDS if rng.random() < 0.6]
        ops = random_ops(rng)
        steps = plan(ops, folding)
        merged += sum(len(s.merge.changes) for s in steps if s.merge is not None)
        expected = await outcome(pg, "one_by_one", rows, [*plan(ops)])
        assert await outcome(pg, "regrouped", rows, steps) == expected, (seed, ops)
    assert merged > 150  # the batches did exercise merging


@pytest.mark.parametrize(
    "sql", ["UPDATE t SET id = $2 WHERE id = $1", "UPDATE t SET id = id, n = 1 WHERE id = $1"]
)
async def test_a_statement_that_changes_a_rows_id_is_left_to_postgresql(
    pg: asyncpg.Connection, sql: str
) -> None:
    await pg.execute(f"CREATE SCHEMA ids; SET search_path TO ids; {TABLE}; RESET search_path")
    table = (await Folding.load(pg, "ids")).tables["t"]
    assert compile_update(sql, table) is None
