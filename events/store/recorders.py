"""eventsourcing recorders on the JetStream store: a synchronous facade, run through the SyncBridge.

Mapping: one subject per aggregate (`<prefix>.ev.<originator_id>`), message data = the stored event's
state, headers `Levee-Topic` and `Levee-Version`. A notification id is the message's stream sequence.
Tracking: one subject per upstream application (`<prefix>.track.<name>`), written as the worker runtime
writes its own (data `{"position": n}`, header `Levee-Position`), so both kinds of reader agree.
Snapshots (any purpose other than "events") live under `<prefix>.snap.<purpose>.<originator_id>`
(`StreamSpec.snapshot_subject`): never under `ev.>`, where every consumer of events would take them for facts.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    DatabaseError,
    IntegrityError,
    Notification,
    OperationalError,
    ProcessRecorder,
    ProgrammingError,
    StoredEvent,
    Subscription,
    Tracking,
    TrackingRecorder,
)

from events.store.errors import ConcurrencyConflict, StoreError, StoreUnavailable
from events.store.jetstream import MAX_BATCH, READ_BATCH
from events.store.records import StoredMessage, Write
from events.store.subscription import PollingSubscription
from events.store.sync_bridge import SyncBridge

TOPIC = "Levee-Topic"
VERSION = "Levee-Version"
POSITION = "Levee-Position"  # as in services/runtime/tracking.py (events may not import services)
T = TypeVar("T")
_UNSAFE_TOKEN = re.compile(r"[\s*>]|^\.|\.\.|\.$")


def _token(value: object) -> str:
    text = str(value)
    if not text or _UNSAFE_TOKEN.search(text):
        raise ProgrammingError(f"{text!r} cannot be part of a NATS subject")
    return text


class _NatsRecorder:
    def __init__(self, bridge: SyncBridge, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bridge = bridge
        self.spec = bridge.spec

    def _call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run on the bridge and speak eventsourcing's exception vocabulary."""
        try:
            return self.bridge.call(fn, *args)
        except ConcurrencyConflict as exc:  # someone wrote to the subject since we read it
            raise IntegrityError(str(exc)) from exc
        except StoreUnavailable as exc:
            raise OperationalError(str(exc)) from exc
        except StoreError as exc:
            raise DatabaseError(str(exc)) from exc

    def _tracking_subject(self, application_name: str) -> str:
        return self.spec.tracking_subject(_token(application_name))

    def _tracking_write(self, tracking: Tracking, last: StoredMessage | None) -> Write:
        """The tracking message, refused unless it moves the application's position forward."""
        current = _tracked_id(last)
        if current is not None and tracking.notification_id <= current:
            raise IntegrityError(
                f"tracking {tracking.application_name} {tracking.notification_id} is not after {current}"
            )
        position = tracking.notification_id
        data = json.dumps({"position": position}).encode()
        # The expected sequence makes "read max, then write" atomic against a concurrent writer.
        subject = self._tracking_subject(tracking.application_name)
        return Write(subject, data, {POSITION: str(position)}, expected_last_seq=last.seq if last else 0)


def _tracked_id(message: StoredMessage | None) -> int | None:
    return None if message is None else int(message.headers[POSITION])


class NatsAggregateRecorder(_NatsRecorder, AggregateRecorder):
    def __init__(self, bridge: SyncBridge, purpose: str = "events") -> None:
        super().__init__(bridge)
        self.purpose = purpose
        # Events of an aggregate have consecutive versions; snapshots are taken at any later version.
        self.consecutive_versions = purpose == "events"

    def subject(self, originator_id: UUID | str) -> str:
        if self.purpose == "events":
            return self.spec.event_subject(_token(originator_id))
        return self.spec.snapshot_subject(_token(self.purpose), _token(originator_id))

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        self._insert(stored_events, kwargs.get("tracking"))
        return None

    def _insert(self, stored_events: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        if not stored_events and tracking is None:
            return []
        return self._call(self._append, stored_events, tracking)

    async def _append(self, stored_events: Sequence[StoredEvent], tracking: Tracking | None) -> list[int]:
        """Check versions against each aggregate's last message, then append everything in one batch."""
        subjects = [self.subject(e.originator_id) for e in stored_events]
        unique = list(dict.fromkeys(subjects))
        if tracking is not None:
            unique.append(self._tracking_subject(tracking.application_name))
        store = self.bridge.store
        lasts = dict(zip(unique, await asyncio.gather(*(store.last_message(s) for s in unique)), strict=True))
        versions = {s: _version(lasts[s]) for s in subjects}
        writes: list[Write] = []
        seen: set[str] = set()
        for subject, event in zip(subjects, stored_events, strict=True):
            self._check_version(event, versions[subject])
            versions[subject] = event.originator_version
            expected: int | None = None
            if subject not in seen:
                seen.add(subject)
                last = lasts[subject]
                # The server compares the subject's last sequence inside the atomic batch, so a writer
                # that read a stale version stores nothing; later writes of the batch need no check.
                expected = last.seq if last else 0
            headers = {TOPIC: event.topic, VERSION: str(event.originator_version)}
            writes.append(Write(subject, event.state, headers, expected_last_seq=expected))
        if tracking is not None:
            writes.append(self._tracking_write(tracking, lasts[unique[-1]]))
        if len(writes) > MAX_BATCH:
            raise ProgrammingError(f"one save holds at most {MAX_BATCH} messages, got {len(writes)}")
        sequences = await store.append(writes)
        return sequences[: len(stored_events)]

    def _check_version(self, event: StoredEvent, previous: int | None) -> None:
        version = event.originator_version
        if previous is None:
            return
        follows = version == previous + 1 if self.consecutive_versions else version > previous
        if not follows:
            raise IntegrityError(
                f"{event.originator_id} version {version} does not follow stored version {previous}"
            )

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        subject = self.subject(originator_id)
        messages = self._call(self._read_aggregate, subject, desc and limit == 1 and lte is None)
        events = [
            StoredEvent(originator_id, int(m.headers[VERSION]), m.headers[TOPIC], m.data)
            for m in messages
            if (gt is None or int(m.headers[VERSION]) > gt)
            and (lte is None or int(m.headers[VERSION]) <= lte)
        ]
        if desc:
            events.reverse()
        return events if limit is None else events[:limit]

    async def _read_aggregate(self, subject: str, last_only: bool) -> list[StoredMessage]:
        if last_only:  # the latest snapshot or event: one direct get instead of the whole subject
            last = await self.bridge.store.last_message(subject)
            return [] if last is None else [last]
        return await self.bridge.store.read_subject(subject)


def _version(message: StoredMessage | None) -> int | None:
    return None if message is None else int(message.headers[VERSION])


class NatsApplicationRecorder(NatsAggregateRecorder, ApplicationRecorder):
    """Aggregate events plus the application sequence: the stream's own order over `<prefix>.ev.>`."""

    def __init__(self, bridge: SyncBridge, purpose: str = "events") -> None:
        super().__init__(bridge, purpose)
        self._event_prefix = self.spec.event_subject("")

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        return self._insert(stored_events, kwargs.get("tracking"))

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        after = max(start or 0, 0)
        if inclusive_of_start and after > 0:
            after -= 1
        notifications, _ = self.scan(after, limit, stop, topics)
        return notifications

    def scan(
        self, after: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()
    ) -> tuple[list[Notification], int]:
        """Notifications after a stream position, and the position the scan reached (for subscriptions)."""
        return self._call(self._scan, after, limit, stop, tuple(topics))

    async def _scan(
        self, after: int, limit: int, stop: int | None, topics: tuple[str, ...]
    ) -> tuple[list[Notification], int]:
        found: list[Notification] = []
        position = after
        while len(found) < limit:
            # Topics are filtered here, not by the server, so a filtered scan reads whole pages.
            want = READ_BATCH if topics else min(limit - len(found), READ_BATCH)
            chunk = await self.bridge.store.read(after_seq=position, limit=want)
            for message in chunk:
                if stop is not None and message.seq > stop:
                    return found, position
                position = message.seq
                if topics and message.headers.get(TOPIC) not in topics:
                    continue
                found.append(self._notification(message))
                if len(found) == limit:
                    return found, position
            if len(chunk) < want:  # the stream has nothing more yet
                break
        return found, position

    def _notification(self, message: StoredMessage) -> Notification:
        return Notification(
            id=message.seq,
            originator_id=_originator_id(message.subject.removeprefix(self._event_prefix)),
            originator_version=int(message.headers[VERSION]),
            topic=message.headers[TOPIC],
            state=message.data,
        )

    def max_notification_id(self) -> int | None:
        return self._call(self._max_notification_id)

    async def _max_notification_id(self) -> int | None:
        # The newest message on an event subject: tracking and snapshot messages also take stream
        # sequences, so the stream's own last sequence is not the last notification.
        last = await self.bridge.store.last_matching(self.spec.events_filter)
        return None if last is None else last.seq

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return PollingSubscription(self, gt=gt, topics=topics)


def _originator_id(token: str) -> UUID | str:
    """Give UUIDs back as UUIDs (as the library's own recorders do); any other id stays a string."""
    try:
        as_uuid = UUID(token)
    except ValueError:
        return token
    return as_uuid if str(as_uuid) == token else token


class NatsTrackingRecorder(_NatsRecorder, TrackingRecorder):
    def insert_tracking(self, tracking: Tracking) -> None:
        self._call(self._append_tracking, tracking)

    async def _append_tracking(self, tracking: Tracking) -> None:
        last = await self.bridge.store.last_message(self._tracking_subject(tracking.application_name))
        await self.bridge.store.append([self._tracking_write(tracking, last)])

    def max_tracking_id(self, application_name: str) -> int | None:
        return self._call(self._max_tracking_id, self._tracking_subject(application_name))

    async def _max_tracking_id(self, subject: str) -> int | None:
        return _tracked_id(await self.bridge.store.last_message(subject))


class NatsProcessRecorder(NatsTrackingRecorder, NatsApplicationRecorder, ProcessRecorder):
    """New events and the tracking record of what caused them go in one atomic batch."""

    def __init__(self, bridge: SyncBridge) -> None:
        super().__init__(bridge)
