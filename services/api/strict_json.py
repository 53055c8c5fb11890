"""Request bodies as JSON, strictly: UTF-8 only, no duplicate names, no NaN or Infinity literals (a number too
large for a float still reads as inf: each field's own check refuses it), bounded nesting.

A duplicate name would let two readers of one body see two different requests; NaN is not JSON; and a body of
a thousand nested brackets (2 KB) would exhaust Python's recursion and answer a 500.
"""

from __future__ import annotations

import json
from typing import Any


class NotJson(ValueError):
    """The body is not JSON as the API takes it; the message says where."""


def loads(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, object_pairs_hook=_no_dupes)
    except UnicodeDecodeError as exc:
        raise NotJson(f"not UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise NotJson(f"{exc.msg} at line {exc.lineno} column {exc.colno} (char {exc.pos})") from None
    except RecursionError:
        raise NotJson("nested too deeply") from None
    except ValueError as exc:
        raise NotJson(str(exc)) from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _no_dupes(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, value in pairs:
        if name in found:
            raise ValueError(f"the field {name!r} appears twice in one object")
        found[name] = value
    return found
