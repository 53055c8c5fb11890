"""The deadline watcher's schedule survives being shelved: every field back as it was, and a shelf written
under other deadline lengths, another stream or another fold is told apart."""

from __future__ import annotations

import dataclasses
import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from events.deadlines import Deadline, DeadlineState
from events.reference import load_reference
from services.dispatch import deadline_shelf

T0 = datetime(2026, 9, 1, 8, 30, tzinfo=UTC)


def every_field_set() -> DeadlineState:
    """No field at its default: a field the encoding forgot comes back different."""
    accept = Deadline("accept", T0, "assessed", closed_at=T0 + timedelta(minutes=5), recorded=True,
                      unbounded=T0 + timedelta(hours=1))  # fmt: skip
    resolve = Deadline("resolve", T0 + timedelta(hours=24), "extended")
    state = DeadlineState(
        uuid4(), version=7, level="P2", deadlines=(accept, resolve), agreed_at=T0 + timedelta(hours=30),
        accepted_at=T0 + timedelta(minutes=5), escalation_level=1, misses_recorded=1, settled=True, ended=True,
    )  # fmt: skip
    for field in dataclasses.fields(DeadlineState):
        assert getattr(state, field.name) != field.default, f"{field.name} is left at its default"
    for field in dataclasses.fields(Deadline):
        assert getattr(accept, field.name) != field.default, f"Deadline.{field.name} is left at its default"
    return state


def test_a_schedule_comes_back_from_its_shelf_as_it_was() -> None:
    full, bare = every_field_set(), DeadlineState(uuid4())
    dormant = dataclasses.replace(every_field_set(), deadlines=(), settled=True, ended=False)
    back = deadline_shelf.decode(
        deadline_shelf.encode(
            {full.complaint_id: full, bare.complaint_id: bare}, {dormant.complaint_id: dormant}
        )
    )
    assert back.schedule == {full.complaint_id: full, bare.complaint_id: bare}
    assert back.dormant == {dormant.complaint_id: dormant}
    assert back.schedule[full.complaint_id].deadlines[0].due.tzinfo is not None


@pytest.mark.parametrize("data", [b"", b"not zlib", deadline_shelf.encode({}, {})[:-3]])
def test_bytes_that_are_not_a_schedule_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        deadline_shelf.decode(data)


def test_a_schedule_with_a_field_missing_is_refused() -> None:
    state = every_field_set()
    document = json.loads(zlib.decompress(deadline_shelf.encode({state.complaint_id: state}, {})))
    document["schedule"][0].pop()  # as written before a field was added
    with pytest.raises(ValueError):
        deadline_shelf.decode(zlib.compress(json.dumps(document).encode()))


def test_the_fingerprint_names_the_deadline_lengths_and_the_stream() -> None:
    reference = load_reference()
    first = reference.levels[0]
    longer = dataclasses.replace(first, accept_within_minutes=first.accept_within_minutes + 15)
    changed = dataclasses.replace(reference, levels=(longer, *reference.levels[1:]))
    created = "2026-12-07T10:00:00.000000001Z"
    same = deadline_shelf.fingerprint(reference, created)
    assert deadline_shelf.fingerprint(load_reference(), created) == same
    assert deadline_shelf.fingerprint(changed, created) != same
    assert deadline_shelf.fingerprint(reference, "2026-12-07T10:00:01Z") != same


def test_the_fingerprint_names_the_code_that_folded_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade that changes the fold, the events' decoding or the watcher refuses older shelves."""
    reference, created = load_reference(), "2026-12-07T10:00:00Z"
    before = deadline_shelf.fingerprint(reference, created)
    changed = deadline_shelf._fold_source() + "\n# a rule changed"
    monkeypatch.setattr(deadline_shelf, "_fold_source", lambda: changed)
    assert deadline_shelf.fingerprint(reference, created) != before


@pytest.mark.parametrize(
    "module",
    ["events/deadlines.py", "events/complaint.py", "events/mapper.py", "services/dispatch/deadlines.py"],
)
def test_the_code_fingerprinted_is_the_fold_the_events_decoding_and_the_watcher(module: str) -> None:
    """A shelf folded by other code is refused only if that code is in the fingerprint: an upgrade changing how
    events are decoded (events/mapper.py, the upcasts) would have kept a schedule folded the old way."""
    root = Path(__file__).resolve().parents[3]
    assert (root / module).read_text() in deadline_shelf._fold_source()
