"""Plain records that cross the store's boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Write:
    """One message to append.

    `expected_last_seq` is the subject's last *stream* sequence as the writer saw it (0: the subject must be
    empty); None skips the check. The server enforces it atomically with the write.
    """

    subject: str
    data: bytes
    headers: dict[str, str] = field(default_factory=dict)
    expected_last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as the stream holds it; `seq` is its global position."""

    seq: int
    subject: str
    data: bytes
    headers: dict[str, str]

    @property
    def time(self) -> datetime | None:
        """When the server stored it (from `Nats-Time-Stamp`, or a consumer's delivery stamp in nanoseconds;
        parsed on demand, most readers never ask)."""
        stamp = self.headers.get("Nats-Time-Stamp")
        if stamp:
            return parse_time_stamp(stamp)
        stamp = self.headers.get(DELIVERY_STAMP)
        if not stamp:
            return None
        seconds, nanoseconds = divmod(int(stamp), 1_000_000_000)  # to the microsecond, truncated as above
        return datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=nanoseconds // 1000)


# A consumer's delivery says when the message was stored in its reply subject, not a header: kept under this
# name (events/store/cursor.py), not the server's own.
DELIVERY_STAMP = "Levee-Stored-Ns"


def parse_time_stamp(stamp: str) -> datetime:
    """The server's RFC 3339 time with nanoseconds; Python keeps microseconds."""
    head, _, rest = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{head}.{(rest + '000000')[:6]}").replace(tzinfo=UTC)
