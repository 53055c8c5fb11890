"""The stream's newest stretch as one process last read it, for a second reader in that process.

Dispatch runs its worker and its deadline watcher on one store; notices its worker and its summary
scheduler. Each pair read the whole stream twice, and in a surge at 500 complaints/s those second reads
were a fifth of every message nats-server sent. The worker reads first (it is the busy one); the other
finds the same messages here.

A window holds the messages of one unbroken range of positions, (low, high], taken from unfiltered reads:
such a read of (after, last] holds every message in that range, so the window can answer any later question
about it, for any subject. Messages are immutable once stored; one deleted since it was read (a subject's
limit) is only a message a reader skips anyway.
"""

from __future__ import annotations

from bisect import bisect_right
from itertools import islice

from events.store.records import StoredMessage

# What dispatch and notices keep for their second reader (the deadline watcher, the summary scheduler, which
# look once a second): 8,000 messages are about 16 MB, and about 1.8 s of a surge of 500 complaints/s; a
# reader past the window asks the server as before.
SIDE_READER_WINDOW = 8_000


class ReadWindow:
    """At most `capacity` messages, and no more than `max_bytes` of payload beyond the newest message (a
    message may be up to the server's max_payload: a cluster group's first event carries its members)."""

    def __init__(self, capacity: int, *, max_bytes: int = 32 * 1024 * 1024) -> None:
        if capacity < 1:
            raise ValueError(f"a read window holds at least one message, not {capacity}")
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.low = 0  # the window covers positions (low, high]; empty when low == high
        self.high = 0
        self._seqs: list[int] = []
        self._messages: list[StoredMessage] = []
        self._sizes: list[int] = []  # running total of payload bytes, message by message
        self._dropped_bytes = 0  # the running total at the last message dropped

    def __len__(self) -> int:
        return len(self._messages)

    def record(self, after_seq: int, messages: list[StoredMessage]) -> None:
        """An unfiltered read answered `messages`: every message the stream has in (after_seq, last seq]."""
        if not messages:
            return
        last = messages[-1].seq
        if after_seq < self.low or (after_seq < self.high and last <= self.high):
            return  # a reader behind the window, or nothing new: the window stays with the one ahead
        if self.low == self.high or after_seq > self.high:
            # Not joined to what the window holds (the reader ahead has moved past it): start over there.
            self.low, self.high = after_seq, last
            self._seqs, self._messages, self._sizes, self._dropped_bytes = [], [], [], 0
            self._append(messages)
        elif last > self.high:
            self._append(messages[bisect_right([m.seq for m in messages], self.high) :])
            self.high = last
        excess = len(self._messages) - self.capacity
        held_bytes = self._sizes[-1] - self._dropped_bytes
        if held_bytes > self.max_bytes:  # drop the oldest until the rest fits (the newest always stays)
            over = bisect_right(self._sizes, self._sizes[-1] - self.max_bytes - 1) + 1
            excess = max(excess, min(over, len(self._messages) - 1))
        if excess > 0:
            self.low = self._seqs[excess - 1]
            self._dropped_bytes = self._sizes[excess - 1]
            del self._seqs[:excess]
            del self._messages[:excess]
            del self._sizes[:excess]

    def _append(self, messages: list[StoredMessage]) -> None:
        total = self._sizes[-1] if self._sizes else self._dropped_bytes
        for message in messages:
            total += len(message.data)
            self._seqs.append(message.seq)
            self._messages.append(message)
            self._sizes.append(total)

    def take(self, after_seq: int, limit: int, prefix: str = "") -> list[StoredMessage] | None:
        """Up to `limit` messages after `after_seq` whose subject starts with `prefix`, oldest first, as a read
        would answer them from the window's range; None when the window does not cover `after_seq` + 1.

        An empty list means no such message lies in (after_seq, high]: read on from `high`."""
        if not self.low <= after_seq < self.high:
            return None
        start = bisect_right(self._seqs, after_seq)
        if not prefix:
            return self._messages[start : start + limit]
        found: list[StoredMessage] = []
        for message in islice(self._messages, start, None):
            if message.subject.startswith(prefix):
                found.append(message)
                if len(found) == limit:
                    break
        return found
