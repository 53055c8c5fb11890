"""A worker's position in the stream, stored in the stream itself (`<prefix>.track.<worker>`).

The tracking message is written in the same atomic batch as the worker's effects, and each write expects
the previous tracking message's sequence: a crash before the commit redoes the batch, a crash after it
finds the new position, and of two instances racing on one batch only one commit is accepted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from events.store import JetStreamEventStore, Write
from events.store.errors import StreamGap

POSITION = "Levee-Position"
WORKERS = ("triage", "dispatch", "notices")  # every stream worker that keeps a tracking record


@dataclass(frozen=True, slots=True)
class Tracking:
    worker: str
    position: int  # the last stream sequence whose effects are committed
    seq: int  # the tracking message's own sequence (0: none yet), for the expected-sequence check

    def advance_to(self, store: JetStreamEventStore, position: int) -> Write:
        return Write(
            subject=store.spec.tracking_subject(self.worker),
            data=json.dumps({"position": position}).encode(),
            headers={POSITION: str(position)},
            expected_last_seq=self.seq,
        )


async def load_tracking(store: JetStreamEventStore, worker: str) -> Tracking:
    last = await store.last_message(store.spec.tracking_subject(worker))
    if last is None:
        return Tracking(worker, 0, 0)
    return Tracking(worker, int(last.headers[POSITION]), last.seq)


async def check_no_gap(store: JetStreamEventStore, tracking: Tracking) -> None:
    """Fail closed: a stream that ends before what we already processed has lost acknowledged data."""
    last = await store.last_sequence()
    if tracking.position > last:
        raise StreamGap(tracking.worker, tracking.position, last)
