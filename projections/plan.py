"""Regrouping a batch's ops into few round trips without changing what they do.

Executing ops one by one costs a round trip each. Ops with the same statement can go in one `executemany`
(or one COPY), but only if no op on the same row has to run between them. So ops are placed in layers:
within a layer each key appears in one group only, and a key's next op with a different statement goes to
a later layer. Layers run in order, so every row sees its ops in event order; keyless ops commute and all
go to the first layer.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from projections.ops import Append, Op, SqlOp


@dataclass(slots=True)
class Step:
    """One round trip: `executemany(sql, rows)`, or a COPY of `rows` into `table` when `columns` is set."""

    table: str
    sql: str
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    columns: tuple[str, ...] | None = None


def plan(ops: Iterable[Op]) -> list[Step]:
    layers: list[dict[Hashable, Step]] = []
    where: dict[Hashable, tuple[int, Hashable]] = {}  # key -> (layer, group) of its latest op
    for op in ops:
        group: Hashable = ("copy", op.table, op.columns) if isinstance(op, Append) else op.sql
        key = op.key if isinstance(op, SqlOp) else None
        layer = 0
        if key is not None and key in where:
            last_layer, last_group = where[key]
            layer = last_layer if last_group == group else last_layer + 1
        if key is not None:
            where[key] = (layer, group)
        while len(layers) <= layer:
            layers.append({})
        step = layers[layer].get(group)
        if step is None:
            step = layers[layer][group] = _new_step(op)
        step.rows.append(op.row if isinstance(op, Append) else op.args)
    # Appends first in each layer: a later op of the batch may update a row appended in it.
    return [
        step
        for layer_steps in layers
        for step in sorted(layer_steps.values(), key=lambda step: step.columns is None)
    ]


def _new_step(op: Op) -> Step:
    if isinstance(op, Append):
        return Step(op.table, "", columns=op.columns)
    return Step(op.table, op.sql)
