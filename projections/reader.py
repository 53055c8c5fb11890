"""A faster read of the stream for the projector: the same batch direct get as the store's `read`, with the
replies collected by a subscription callback instead of one `next_msg` wait per message (which cost more
than everything else a rebuild does). Returns the same StoredMessage records."""

from __future__ import annotations

import asyncio
import json

import nats.errors

from events.store import JetStreamEventStore, StoreError, StoreUnavailable
from events.store.jetstream import READ_BATCH
from events.store.records import StoredMessage


class BatchReader:
    def __init__(self, store: JetStreamEventStore, *, timeout: float = 10.0) -> None:
        self.store = store
        self.timeout = timeout
        self._direct = f"$JS.API.DIRECT.GET.{store.spec.name}"

    async def read(self, *, after_seq: int, limit: int = READ_BATCH) -> list[StoredMessage]:
        nc = self.store.nc
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        messages: list[StoredMessage] = []

        async def collect(msg: nats.aio.msg.Msg) -> None:
            headers = msg.headers or {}
            status = headers.get("Status")
            if status:
                if not done.done():
                    if status in ("204", "404"):  # end of batch / nothing there
                        done.set_result(None)
                    else:
                        done.set_exception(StoreError(f"batch direct get: status {status}"))
                return
            messages.append(
                StoredMessage(int(headers["Nats-Sequence"]), headers["Nats-Subject"], msg.data, headers)
            )

        request = {
            "seq": after_seq + 1,
            "batch": min(limit, READ_BATCH),
            "next_by_subj": self.store.spec.events_filter,
        }
        try:
            sub = await nc.subscribe(nc.new_inbox(), cb=collect)
            try:
                await nc.publish(self._direct, json.dumps(request).encode(), reply=sub.subject)
                await asyncio.wait_for(done, self.timeout)
            finally:
                await sub.unsubscribe()
        except (TimeoutError, nats.errors.Error) as exc:
            raise StoreUnavailable(f"batch direct get failed: {type(exc).__name__}") from exc
        return messages
