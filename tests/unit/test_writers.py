"""The system's writers an erasure keeps the words of are the names the services write as `by`."""

from __future__ import annotations

from events.deadlines import WATCHER
from events.writers import SYSTEM_WRITERS
from services.dispatch import handlers as dispatch_handlers
from services.triage import handlers as triage_handlers


def test_every_services_own_name_is_a_system_writer_and_nothing_else_is() -> None:
    assert set(SYSTEM_WRITERS) == {dispatch_handlers.BY, WATCHER, triage_handlers.BY}
