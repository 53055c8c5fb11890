"""Whether the stream is taking this process's writes, as its last appends found.

A broker that answers reads but refuses or never confirms writes looks healthy to a stream-info check: that
is how a full disk shows (docs/operations.md, section 12). The store notes each append's outcome here; the
API's /healthz says what the last refusal was while no write has succeeded since.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

NO_STORAGE = "no_storage"  # JetStream refused the write: its storage limit or the disk is full
UNCONFIRMED = "unconfirmed"  # no answer, and the write is not in the stream
REASONS = (NO_STORAGE, UNCONFIRMED)
# A refusal older than this, with nothing written since, is no longer reported: an idle API would otherwise
# say "refusing writes" for hours after an operator freed the disk.
REPORT_SECONDS = 300.0


@dataclass
class WriteHealth:
    """The last stored and the last refused append through one connection (one per process)."""

    on_refused: Callable[[str], None] | None = None  # e.g. a metric's counter, by reason
    clock: Callable[[], float] = time.monotonic
    _stored_at: float | None = None
    _refused_at: float | None = None
    _refused_wall: datetime | None = None
    _refusal: str = ""

    def stored(self) -> None:
        self._stored_at = self.clock()

    def refused(self, reason: str, detail: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        self._refused_at = self.clock()
        self._refused_wall = datetime.now(UTC)
        self._refusal = f"{reason}: {detail}"
        if self.on_refused is not None:
            self.on_refused(reason)

    def problem(self) -> str | None:
        """What the last refusal said, while no write has succeeded since and it is recent; else None."""
        if self._refused_at is None or self._refused_wall is None:
            return None
        if self._stored_at is not None and self._stored_at >= self._refused_at:
            return None
        if self.clock() - self._refused_at > REPORT_SECONDS:
            return None
        at = self._refused_wall.isoformat(timespec="seconds").replace("+00:00", "Z")
        return f"the last write (at {at}) was refused, none stored since: {self._refusal}"
