"""What can go wrong when writing to or reading from the stream, in words a caller can act on."""

from __future__ import annotations


class StoreError(Exception):
    """The stream refused a write for a reason that retrying will not fix."""


class ConcurrencyConflict(StoreError):
    """Someone else wrote to this subject since we read it (JetStream error 10071)."""

    def __init__(self, subject: str | None, detail: str, *, last_seq: int = 0) -> None:
        super().__init__(f"concurrency conflict on {subject or 'a subject in the batch'}: {detail}")
        self.subject = subject
        self.detail = detail
        self.last_seq = last_seq  # the subject's last stream sequence where the conflict was seen; 0: unknown


class StoreUnavailable(StoreError):
    """The broker could not be reached or did not answer; nothing is known to be stored."""


class StoreFull(StoreUnavailable):
    """JetStream has no storage left for the stream (its file storage limit, or the disk): nothing was stored.

    A retry succeeds only once an operator frees or adds space (docs/operations.md, section 12)."""


class WriteUnconfirmed(StoreUnavailable):
    """No answer to a write, and reading back did not find all of it: whether it will be stored is unknown.

    `read_back`: the broker answered the read-back. Then it reads but does not write, which is how a full
    disk shows (nats-server stays so until it restarts); without it, the broker went away mid-request. A
    retry under the same idempotency key finds out which."""

    def __init__(self, detail: str, *, read_back: bool) -> None:
        super().__init__(detail)
        self.read_back = read_back


class StreamGap(StoreError):
    """The stream ends before a position this reader already processed: acknowledged data was lost."""

    def __init__(self, reader: str, position: int, last_sequence: int) -> None:
        super().__init__(
            f"{reader} has processed up to {position} but the stream ends at {last_sequence}: "
            "events were lost from the stream; refusing to carry on silently"
        )
        self.reader = reader
        self.position = position
        self.last_sequence = last_sequence
