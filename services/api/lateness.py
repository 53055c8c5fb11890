"""How late the board and each worker are behind the stream.

In a surge the readers fall behind the stream: the board then shows the city as it was a while ago, and a new
complaint waits for triage's priority or dispatch's department. Command must see that on the board, not take a
quiet board for a quiet city. For each reader: how many events it has not processed yet, and for how long the
oldest of them has waited (from when the stream stored it).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from events.store import JetStreamEventStore
from services.runtime.tracking import POSITION, WORKERS

READ_MODELS = "read_models"  # the projector: what the board and every list show
# A reader whose oldest unprocessed event has waited this long is `late` (the board says so). Caught up, each
# is well under a second behind; a few seconds come and go with any burst.
LATE_SECONDS = 15.0


async def lateness(
    store: JetStreamEventStore, read_models_at: int, now: datetime
) -> dict[str, dict[str, Any]]:
    """{reader: {"events": n, "seconds": s, "late": bool}} for the read models and every worker: the events
    it has not processed, how long the oldest of them has waited (0 and 0.0 when caught up), and whether that
    is LATE_SECONDS or more."""
    subjects = [store.spec.tracking_subject(worker) for worker in WORKERS]
    stored = {m.subject: int(m.headers[POSITION]) for m in await store.last_messages(subjects)}
    positions = {READ_MODELS: read_models_at} | {
        worker: stored.get(subject, 0) for worker, subject in zip(WORKERS, subjects, strict=True)
    }
    backlogs = await asyncio.gather(*(store.backlog(position) for position in positions.values()))
    late = {}
    for reader, (events, oldest) in zip(positions, backlogs, strict=True):
        seconds = round(max(0.0, (now - oldest).total_seconds()), 1) if oldest else 0.0
        late[reader] = {"events": events, "seconds": seconds, "late": events > 0 and seconds >= LATE_SECONDS}
    return late
