"""The event store on NATS JetStream: an async core that services use directly.

`events.eventstore` wraps it as an eventsourcing persistence module for the library's own Application.
"""

from events.store.errors import (
    ConcurrencyConflict,
    StoreError,
    StoreFull,
    StoreUnavailable,
    WriteUnconfirmed,
)
from events.store.jetstream import JetStreamEventStore
from events.store.records import StoredMessage, Write

__all__ = [
    "ConcurrencyConflict",
    "JetStreamEventStore",
    "StoreError",
    "StoreFull",
    "StoreUnavailable",
    "StoredMessage",
    "Write",
    "WriteUnconfirmed",
]
