"""Regrouping a batch's ops into few round trips without changing what they do.

Executing ops one by one costs a round trip each. Ops with the same statement can go in one `executemany`
(or one COPY), but only if no op on the same row has to run between them. So ops are placed in layers:
within a layer each key appears in one group only, and a key's next op with a different statement goes to
a later layer. Layers run in order, so every row sees its ops in event order; keyless ops commute and all
go to the first layer.

Given the tables (a `fold.Folding`), a row created in the batch is held as values, its later UPDATEs are
folded into it (projections/fold.py), and it is written once, with the batch's other new rows of its table.
A row the batch changes but did not create, two times or more, is merged: read once, its UPDATEs and
`Derive`s applied to its values in order, and written once (a `Merge` step). A complaint's triage and its
dispatch come in a few events each, so a live batch changed a complaint row three to four times, each
change a new row version with an entry in each of its eight indexes. A lone change runs as its statement.
Counts of one row are added up into one statement. A `Derive` on a held row is applied to its values; on any
other row it becomes a step that reads the rows, derives, and writes them back (see `runner.execute`).
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from projections.fold import UNKNOWN, Folding, Row, Table, Update
from projections.ops import Append, Count, Derive, Op, SqlOp


@dataclass(slots=True)
class Step:
    """One round trip: `executemany(sql, rows)`, or when `columns` is set new `rows` for `table` (the runner
    COPYs them, or INSERTs a few), or when `derive` is set that change on the rows (id, arg) in order, or when
    `merge` is set those rows' changes (two round trips)."""

    table: str
    sql: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    columns: tuple[str, ...] | None = None
    derive: Derive | None = None
    merge: Merge | None = None


@dataclass(slots=True)
class Merge:
    """Existing rows of `table`, each with the changes the batch makes to it in event order: each an understood
    UPDATE (projections/fold.py) with its arguments, or a `Derive`. The runner reads the rows' `columns`,
    applies the changes to the values and writes each row once; a row that is not there is left alone, as an
    UPDATE of it would leave it."""

    table: str
    changes: dict[Any, list[tuple[SqlOp | Derive, Update | None]]] = field(default_factory=dict)
    columns: dict[str, None] = field(default_factory=dict)  # read and written: "id" and every changed one

    def add(self, row_id: Any, op: SqlOp | Derive, update: Update | None) -> None:
        self.changes.setdefault(row_id, []).append((op, update))

    def apply(self, row: Row) -> None:
        """The changes to `row` (read with at least `columns`), in order."""
        for op, update in self.changes[row["id"]]:
            if update is not None:
                update.apply(row, op.args)  # type: ignore[union-attr]
            else:
                assert isinstance(op, Derive)
                row.update(op.change({column: row[column] for column in op.columns}, op.arg))


def plan(ops: Iterable[Op], folding: Folding | None = None) -> list[Step]:
    planner = _Planner(folding)
    for op in ops:
        planner.add(op)
    return planner.steps()


class _Planner:
    def __init__(self, folding: Folding | None) -> None:
        self.folding = folding
        self.layers: list[dict[Hashable, Step]] = []
        self.where: dict[Hashable, tuple[int, Hashable]] = {}  # key -> (layer, group) of its latest op
        self.held: dict[Hashable, tuple[Table, Row]] = {}  # key -> a row created in this batch, as values
        self.merging: dict[Hashable, tuple[Merge, Any]] = {}  # key -> the merge of an existing row, its id
        self.rows: dict[int, list[Row]] = {}  # id(step) -> its held rows, turned into tuples at the end
        self.counts: dict[str, tuple[Step, dict[tuple[Any, ...], Any]]] = {}

    def add(self, op: Op) -> None:
        if isinstance(op, SqlOp):
            key = op.key
            if key is not None and self.folding is not None and self._fold(op, key):
                return
            self._place(key, op.sql, op).rows.append(op.args)
        elif isinstance(op, Append):
            self._place(None, ("copy", op.table, op.columns), op).rows.append(op.row)
        elif isinstance(op, Derive):
            merged = self.folding is not None and self._merge(op, op.key, op.id, None)
            if not merged and not self._derive_held(op):
                group = ("derive", op.table, op.columns, op.change)
                self._place(op.key, group, op).rows.append((op.id, op.arg))
        else:
            self._count(op)

    def _fold(self, op: SqlOp, key: Hashable) -> bool:
        """True when `op` was taken in as values: a new row held, or an UPDATE folded into one."""
        assert self.folding is not None
        held = self.held.get(key)
        if held is not None:
            table, row = held
            update = self.folding.update(op.sql, table)
            if update is not None and update.apply(row, op.args):
                return True
            # From here on this row's ops run as SQL, after the row is written.
            del self.held[key]
            return False
        insert = self.folding.insert(op.sql) if key not in self.where else None
        if insert is None:
            existing = self.folding.tables.get(op.table)
            update = self.folding.update(op.sql, existing) if existing is not None and op.args else None
            return self._merge(op, key, op.args[0] if op.args else None, update)
        row = insert.row(op.args)
        step = self._place(key, ("rows", op.table, insert.columns), op, insert.columns)
        self.rows.setdefault(id(step), []).append(row)
        self.held[key] = (insert.table, row)
        return True

    def _merge(self, op: SqlOp | Derive, key: Hashable, row_id: Any, update: Update | None) -> bool:
        """True when `op` (an understood UPDATE, or a Derive) was added to the merge of an existing row: the
        key's first op starts one, and its next ops join it while they are understood and name its row."""
        assert self.folding is not None
        understood = update is not None or (isinstance(op, Derive) and op.table in self.folding.tables)
        # Rows are found again by the id PostgreSQL answers: a uuid or an integer equals the one planned.
        understood = understood and isinstance(row_id, UUID | int)
        merging = self.merging.get(key)
        if merging is None:
            if not understood or key in self.where:
                return False
            merge = self._place(key, ("merge", op.table), op).merge
            assert merge is not None
            self.merging[key] = (merge, row_id)
        else:
            merge, merged_id = merging
            if not understood or merge.table != op.table or merged_id != row_id:
                del self.merging[key]  # from here on this row's ops run as SQL, after the merge
                return False
        merge.add(row_id, op, update)
        return True

    def _derive_held(self, op: Derive) -> bool:
        """True when `op` was applied to the values of a row held in the batch."""
        held = self.held.get(op.key)
        if held is None:
            return False
        row = held[1]
        if row.get("id", UNKNOWN) != op.id or any(column not in row for column in op.columns):
            del self.held[op.key]  # from here on this row's ops run as SQL, after the row is written
            return False
        row.update(op.change({column: row[column] for column in op.columns}, op.arg))
        return True

    def _count(self, op: Count) -> None:
        if op.sql not in self.counts:
            self.counts[op.sql] = (self._place(None, ("count", op.sql), op), {})
        totals = self.counts[op.sql][1]
        row_key = op.row[:-1]
        totals[row_key] = totals.get(row_key, 0) + op.row[-1]

    def _place(
        self, key: Hashable | None, group: Hashable, op: Op, columns: tuple[str, ...] | None = None
    ) -> Step:
        layer = 0
        if key is not None and key in self.where:
            last_layer, last_group = self.where[key]
            layer = last_layer if last_group == group else last_layer + 1
        if key is not None:
            self.where[key] = (layer, group)
        while len(self.layers) <= layer:
            self.layers.append({})
        step = self.layers[layer].get(group)
        if step is None:
            step = self.layers[layer][group] = _new_step(op, columns, group)
        return step

    def steps(self) -> list[Step]:
        for step in list(self.layers[0].values()) if self.layers else ():
            if step.merge is not None:
                self._unmerge_lone_changes(step.merge)
            held = self.rows.get(id(step))
            if held is not None:
                columns = step.columns or ()
                values = operator.itemgetter(*columns)
                step.rows = [values(row) if len(columns) > 1 else (values(row),) for row in held]
        for step, totals in self.counts.values():
            step.rows = [(*row_key, amount) for row_key, amount in totals.items()]
        # New rows first in each layer: a later op of the batch may update a row appended in it.
        return [
            step
            for layer_steps in self.layers
            for step in sorted(layer_steps.values(), key=lambda step: step.columns is None)
            if step.merge is None or step.merge.changes
        ]

    def _unmerge_lone_changes(self, merge: Merge) -> None:
        """A row changed once goes as its statement (one round trip for all of them), not read and written."""
        layer = self.layers[0]  # a key's first op is in the first layer, and merges start there
        for row_id, changes in list(merge.changes.items()):
            if len(changes) > 1:
                continue
            del merge.changes[row_id]
            ((op, _),) = changes
            if isinstance(op, Derive):
                group: Hashable = ("derive", op.table, op.columns, op.change)
                row: tuple[Any, ...] = (op.id, op.arg)
            else:
                group, row = op.sql, op.args
            if group not in layer:
                layer[group] = _new_step(op, None, group)
            layer[group].rows.append(row)
        changed = {
            column
            for changes in merge.changes.values()
            for op, update in changes
            for column in (update.columns if update is not None else op.columns)  # type: ignore[union-attr]
        }
        # In the table's order: the same changes make the same statements, which asyncpg has prepared.
        assert self.folding is not None
        merge.columns = {"id": None} | {
            c: None for c in self.folding.tables[merge.table].types if c in changed
        }


def _new_step(op: Op, columns: tuple[str, ...] | None, group: Hashable) -> Step:
    if isinstance(group, tuple) and group[:1] == ("merge",):
        return Step(op.table, "", merge=Merge(op.table))
    if isinstance(op, Derive):
        return Step(op.table, "", derive=op)
    if isinstance(op, Append):
        return Step(op.table, "", columns=op.columns)
    if columns is not None:
        return Step(op.table, "", columns=columns)
    return Step(op.table, op.sql)
