"""Whether the stream is taking this process's writes, as its last appends found.

A broker that answers reads but refuses or never confirms writes looks healthy to a stream-info check: that
is how a full disk shows (docs/operations.md, section 12). The store notes each append's outcome here; the
API's /healthz says what the last refusal was while no write has succeeded since.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

NO_STORAGE = "no_storage"  # JetStream refused the write: its storage limit or the disk is full
UNCONFIRMED = "unconfirmed"  # no answer, and the write not read back whole from a broker that answers reads
REASONS = (NO_STORAGE, UNCONFIRMED)
# A refusal older than this, with nothing written since, is no longer reported: an idle API would otherwise
# say "refusing writes" long after an operator freed the disk. The metric keeps every refusal.
REPORT_SECONDS = 300.0


@dataclass
class WriteHealth:
    """The newest stored and the newest refused append through one connection (one per process).

    Outcomes are ordered by when their append *started*: an append that waited out its timeout finishes
    after others that began later, and what it met is older news than theirs."""

    on_refused: Callable[[str], None] | None = None  # e.g. a metric's counter, by reason
    clock: Callable[[], float] = time.monotonic
    _stored: float | None = field(default=None, init=False)
    _refused: float | None = field(default=None, init=False)
    _refused_wall: datetime | None = field(default=None, init=False)
    _refusal: str = field(default="", init=False)

    def now(self) -> float:
        """What an append passes back as its start."""
        return self.clock()

    def stored(self, started: float) -> None:
        if self._stored is None or started > self._stored:
            self._stored = started

    def refused(self, reason: str, detail: str, started: float) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown refusal reason {reason!r}")
        if self.on_refused is not None:
            self.on_refused(reason)
        if self._refused is None or started >= self._refused:
            self._refused = started
            self._refused_wall = datetime.now(UTC)
            self._refusal = f"{reason}: {detail}"

    def problem(self) -> str | None:
        """What the newest refusal said, while no append that started after it succeeded and it is recent."""
        if self._refused is None or self._refused_wall is None:
            return None
        if self._stored is not None and self._stored > self._refused:
            return None
        if self.clock() - self._refused > REPORT_SECONDS:
            return None
        at = self._refused_wall.isoformat(timespec="seconds").replace("+00:00", "Z")
        return (
            f"the last write (refused at {at}) failed and none started since has succeeded: {self._refusal}"
        )
