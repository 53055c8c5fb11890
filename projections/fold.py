"""Folding a row's later changes into the INSERT that creates it, when both are in one batch.

A complaint's life is an INSERT and a run of UPDATEs. When the INSERT is in the batch the row is new, so all
of it is known here: each UPDATE can be applied to it in Python and the row written once, as it ends the
batch, instead of as an INSERT and N UPDATEs (on a rebuild that is most of PostgreSQL's work).

The statements stay the one source of truth. Only a small, exact subset of SQL is understood, and only on
columns whose type makes the Python meaning plain; a statement outside it ends folding for that row, and it
and the row's later ops run as SQL after the row is written. A test checks folding gives PostgreSQL's rows.

    INSERT INTO t (a, b, ...) VALUES ($1, 'text', 0, true, NULL, ...)
    UPDATE t SET <assignment>, ... WHERE id = $1
        a = $n [::jsonb]    a = 'text' | integer | true | false | NULL    a = a    a = a + integer
        a = CASE WHEN a = 'text' THEN 'text' ELSE a END
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections.migrate import quote_ident

Row = dict[str, Any]
Change = Callable[[Row, Sequence[Any]], None]
TEXT = frozenset({"text", "character varying"})
INTEGER = frozenset({"smallint", "integer", "bigint"})
UNKNOWN = object()  # a column whose default is not a constant: never read or written by a fold


@dataclass(frozen=True, slots=True)
class Table:
    """What folding needs of a table: every column's type, and its default where that is a constant."""

    name: str
    types: Mapping[str, str]
    defaults: Mapping[str, Any]  # column -> default value (None without a default), or UNKNOWN


Tables = Mapping[str, Table]


class Folding:
    """The tables of one schema, and the statements compiled against them (a runner sees a few dozen)."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self._inserts: dict[str, Insert | None] = {}
        self._updates: dict[tuple[str, str], Update | None] = {}

    @classmethod
    async def load(cls, conn: asyncpg.Connection, schema: str) -> Folding:
        return cls(await load_tables(conn, schema))

    def insert(self, sql: str) -> Insert | None:
        if sql not in self._inserts:
            self._inserts[sql] = compile_insert(sql, self.tables)
        return self._inserts[sql]

    def update(self, sql: str, table: Table) -> Update | None:
        if (sql, table.name) not in self._updates:
            self._updates[(sql, table.name)] = compile_update(sql, table)
        return self._updates[(sql, table.name)]


async def load_tables(conn: asyncpg.Connection, schema: str) -> dict[str, Table]:
    """The tables of `schema`, their columns' types and constant defaults (evaluated by PostgreSQL)."""
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type, column_default FROM information_schema.columns "
        "WHERE table_schema = $1 ORDER BY table_name, ordinal_position",
        schema,
    )
    columns: dict[str, list[tuple[str, str, str | None]]] = {}
    for row in rows:
        columns.setdefault(row["table_name"], []).append(
            (row["column_name"], row["data_type"], row["column_default"])
        )
    tables = {}
    for name, described in columns.items():
        constant = [
            (column, default) for column, _, default in described if default and _CONSTANT.match(default)
        ]
        values = {}
        if constant:
            select = ", ".join(f"{default} AS {quote_ident(column)}" for column, default in constant)
            values = dict(await conn.fetchrow(f"SELECT {select}"))
        defaults = {
            column: values[column] if column in values else (UNKNOWN if default else None)
            for column, _, default in described
        }
        tables[name] = Table(name, {column: kind for column, kind, _ in described}, defaults)
    return tables


# Defaults taken as constants: a quoted literal with a cast, a number, a boolean.
_CONSTANT = re.compile(r"^(?:'(?:[^']|'')*'::[\w \[\]\"]+|-?\d+|true|false)$")


@dataclass(frozen=True, slots=True)
class Insert:
    """An understood INSERT: the row it makes from its arguments, the table's other columns at default."""

    table: Table
    columns: tuple[str, ...]  # every column the row is written with: the table's, less UNKNOWN defaults
    sources: tuple[tuple[str, int | None, Any], ...]  # (column, argument index or None, literal)
    base: Row  # every column at its default; copied for each row (folds replace values, never change them)

    def row(self, args: Sequence[Any]) -> Row:
        row = self.base.copy()
        for column, index, literal in self.sources:
            row[column] = literal if index is None else args[index]
        return row


@dataclass(frozen=True, slots=True)
class Update:
    """An understood `UPDATE ... WHERE id = $1`: changes applied to a row in statement order."""

    changes: tuple[Change, ...]
    columns: tuple[str, ...]  # the columns it assigns, each read by its own assignment only

    def apply(self, row: Row, args: Sequence[Any]) -> bool:
        """Fold into `row`; False (and `row` untouched) when the row is not the one the statement names."""
        if row.get("id", UNKNOWN) != args[0]:
            return False
        for change in self.changes:
            change(row, args)
        return True


def compile_insert(sql: str, tables: Tables) -> Insert | None:
    match = _INSERT.match(sql)
    if match is None or match["table"] not in tables:
        return None
    table = tables[match["table"]]
    names = [name.strip() for name in match["columns"].split(",")]
    values = _split(match["values"])
    if values is None or len(names) != len(values) or len(set(names)) != len(names):
        return None
    sources = []
    for name, value in zip(names, values, strict=True):
        if name not in table.types:
            return None
        source = _operand(value, table.types[name])
        if source is None:
            return None
        sources.append((name, *source))
    columns = tuple(c for c, default in table.defaults.items() if default is not UNKNOWN or c in names)
    return Insert(table, columns, tuple(sources), {column: table.defaults[column] for column in columns})


def compile_update(sql: str, table: Table) -> Update | None:
    match = _UPDATE.match(sql)
    if match is None or match["table"] != table.name:
        return None
    assignments = _split(match["assignments"])
    if assignments is None:
        return None
    changes = []
    seen: list[str] = []
    for assignment in assignments:
        change = _assignment(assignment, table)
        if change is None:
            return None
        column, apply = change
        if column in seen:
            return None  # SQL refuses a column assigned twice; so do we
        seen.append(column)
        changes.append(apply)
    return Update(tuple(changes), tuple(seen))


_INSERT = re.compile(r"^INSERT INTO (?P<table>\w+) \((?P<columns>[\w, ]+)\) VALUES \((?P<values>.*)\)$", re.S)
_UPDATE = re.compile(r"^UPDATE (?P<table>\w+) SET (?P<assignments>.*) WHERE id = \$1$", re.S)
_PARAM = re.compile(r"^\$(\d+)(::jsonb)?$")
_ASSIGN = re.compile(r"^(\w+) = (.+)$", re.S)
_INCREMENT = re.compile(r"^(\w+) \+ (\d+)$")
_CASE = re.compile(r"^CASE WHEN (\w+) = '([^']*)' THEN '([^']*)' ELSE (\w+) END$")


def _NOOP(row: Row, args: Sequence[Any]) -> None:
    """`a = a`: nothing changes."""


def _operand(text: str, kind: str) -> tuple[int | None, Any] | None:
    """(argument index, None) for `$n`, (None, value) for a literal of the column's type, None otherwise."""
    param = _PARAM.match(text)
    if param is not None:
        if param[2] and kind != "jsonb":
            return None
        return int(param[1]) - 1, None
    if text == "NULL":
        return None, None
    if kind in TEXT and len(text) >= 2 and text[0] == text[-1] == "'" and "'" not in text[1:-1]:
        return None, text[1:-1]
    if kind == "boolean" and text in ("true", "false"):
        return None, text == "true"
    if kind in INTEGER and re.fullmatch(r"-?\d+", text):
        return None, int(text)
    return None


def _assignment(text: str, table: Table) -> tuple[str, Change] | None:
    match = _ASSIGN.match(text.strip())
    if match is None or match[1] not in table.types or table.defaults.get(match[1]) is UNKNOWN:
        return None
    if match[1] == "id":  # a row that changes its id is no longer the one later statements name
        return None
    column, value, kind = match[1], match[2].strip(), table.types[match[1]]
    # Each right-hand side reads only its own column, which no earlier assignment of the statement may
    # set (checked by the caller): so applying them one by one reads the row as it was, as SQL does.
    if value == column:
        return column, _NOOP
    operand = _operand(value, kind)
    if operand is not None:
        index, literal = operand
        if index is None:
            return column, lambda row, args: row.__setitem__(column, literal)
        return column, lambda row, args: row.__setitem__(column, args[index])
    increment = _INCREMENT.match(value)
    if increment is not None and increment[1] == column and kind in INTEGER:
        by = int(increment[2])

        def add(row: Row, args: Sequence[Any]) -> None:
            if row[column] is not None:  # NULL + 1 is NULL
                row[column] += by

        return column, add
    case = _CASE.match(value)
    if case is not None and case[1] == case[4] == column and kind in TEXT:
        when, then = case[2], case[3]

        def swap(row: Row, args: Sequence[Any]) -> None:
            if row[column] == when:  # NULL = 'x' is not true: a NULL stays
                row[column] = then

        return column, swap
    return None


def _split(text: str) -> list[str] | None:
    """Split on the commas outside quotes and parentheses; None if quotes or parentheses do not balance."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif quoted:
            continue
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return None
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    if quoted or depth:
        return None
    parts.append(text[start:].strip())
    return parts
