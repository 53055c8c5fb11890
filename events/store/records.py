"""Plain records that cross the store's boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


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
    time: datetime | None = None
