"""What a projection asks the database to do: plain values, no I/O.

A projection's `apply(event)` returns a list of these; the runner executes them in one transaction.
`key` names the row an op changes: ops on one key keep their order, ops on different keys (and keyless,
commutative ops such as counts and append-only inserts) may be regrouped for speed, and a row's UPDATEs may
be folded into the INSERT that creates it when that is in the same batch (projections/fold.py).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SqlOp:
    """One parameterised statement on unqualified table names (the runner sets the schema)."""

    table: str
    sql: str
    args: tuple[Any, ...]
    key: Hashable | None = None


@dataclass(frozen=True, slots=True)
class Append:
    """An insert of a row nothing else in the batch touches: the runner may COPY these in bulk."""

    table: str
    columns: tuple[str, ...]
    row: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Count:
    """Add to a counter row, creating it if need be. `sql` takes `row`: the row's key columns, then the amount.

    Counts commute, so the runner adds up a batch's counts of one row and runs the statement once for it.
    """

    table: str
    sql: str
    row: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Derive:
    """Set a row's `columns` to `change(current values of columns, arg)`: for a rule that needs the row's
    history, which no single statement can express (a complaint's deadlines are a fold of its events).

    `change` is pure; the runner reads the row (or takes it from a row held in the batch), applies it, and
    writes the values back. On a row that does not exist it does nothing, as an UPDATE would.
    """

    table: str
    id: Any
    columns: tuple[str, ...]
    change: Callable[[Mapping[str, Any], Any], dict[str, Any]]
    arg: Any

    @property
    def key(self) -> Hashable:
        return (self.table, self.id)


Op = SqlOp | Append | Count | Derive
