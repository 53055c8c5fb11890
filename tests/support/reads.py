"""A store that notes where each read of the stream started: whether a restarted reader folded from its
shelf's position or from the start."""

from __future__ import annotations

from typing import Any

from events.store import JetStreamEventStore


class ReadsCounted(JetStreamEventStore):
    """The store as a reader reads it, noting where each read of the stream started."""

    def __init__(self, store: JetStreamEventStore) -> None:
        super().__init__(store.nc, store.spec)
        self.started_after: list[int] = []

    async def read(self, *, after_seq: int, **kwargs: Any) -> Any:
        self.started_after.append(after_seq)
        return await super().read(after_seq=after_seq, **kwargs)
