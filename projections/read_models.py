"""All of Levee's read models as one projection: decode a stored message, and apply its event to each model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import resolve_topic

from events.mapper import make_mapper
from events.store.aggregates import TOPIC, VERSION
from events.store.records import StoredMessage
from projections import complaints, deadlines, incidents, notices, timeline
from projections.metrics import PROJECTION_UNDECODABLE
from projections.ops import Op

log = structlog.get_logger(__name__)

NAME = "read_models"
Apply = Callable[[Any], list[Op]]
# The complaint row's deadline columns come after its statement: they fold on from what the row holds.
MODELS: tuple[Apply, ...] = (complaints.apply, deadlines.apply, timeline.apply, incidents.apply, notices.apply)  # fmt: skip
TABLES = ("complaints", "complaint_timeline", "hotspots", "incidents", "notices", "dead_letters")


# Event class -> the handler each model registered for it, in model order (models that ignore it left out).
_HANDLERS: dict[type, tuple[Apply, ...]] = {}


def apply(event: Any) -> list[Op]:
    """Every op each read model derives from one event, in model order."""
    handlers = _HANDLERS.get(type(event))
    if handlers is None:
        handlers = _HANDLERS[type(event)] = _handlers(type(event))
    ops: list[Op] = []
    for handler in handlers:
        ops += handler(event)
    return ops


def _handlers(cls: type) -> tuple[Apply, ...]:
    # Looked up once per class instead of four singledispatch calls per event: a rebuild applies millions.
    found = []
    for model in MODELS:
        handler = model.dispatch(cls)  # type: ignore[attr-defined]
        if handler is not model.dispatch(object):  # type: ignore[attr-defined]
            found.append(handler)
    return tuple(found)


class Decoder:
    """StoredMessage -> domain event with the same mapper (and upcasting) the aggregates use.

    The mapper's steps are taken here with what they look up cached per topic (the class, its version, the
    id conversion) and the aggregate id parsed once per subject: half the time of `Mapper.to_domain_event`,
    which a rebuild calls millions of times. A test checks both give equal events for every kind we write.
    """

    # Subjects whose aggregate id is kept parsed; the cache starts over beyond this many.
    ID_CACHE = 100_000

    def __init__(self, mapper: Mapper[UUID] | None = None) -> None:
        self.mapper = mapper or make_mapper()
        # With a cipher or a compressor the state needs the mapper's own handling: take its path then.
        self._fast = self.mapper.cipher is None and self.mapper.compressor is None
        self._classes: dict[str, tuple[type, int, Callable[[Any], Any]]] = {}
        self._ids: dict[str, UUID] = {}

    def __call__(self, message: StoredMessage) -> Any:
        """The domain event, or None for anything that is not one of ours to project.

        Workers keep private aggregates in the stream (triage's indexes): their topics are outside `events.`
        and are skipped without being decoded. A message that cannot be decoded at all is logged and skipped:
        one bad message must not stop the board for everyone.
        """
        topic = message.headers.get(TOPIC, "")
        if not topic.startswith("events."):
            if not topic:
                log.warning("projection_skipped_message", seq=message.seq, reason="no topic header")
            return None
        try:
            if not self._fast:
                return self.mapper.to_domain_event(self.stored_event(message, topic))
            return self._decode(message, topic)
        except Exception as exc:
            # Skipped, so the board goes on for everyone; counted and alerted on, since a newer version's event
            # met by an older projector mid-upgrade is skipped the same way (rebuild once the upgrade is done).
            PROJECTION_UNDECODABLE.inc()
            log.error("projection_undecodable_event", seq=message.seq, topic=topic, error=repr(exc)[:500])
            return None

    def stored_event(self, message: StoredMessage, topic: str) -> StoredEvent:
        return StoredEvent(
            originator_id=self._originator_id(message.subject),
            originator_version=int(message.headers[VERSION]),
            topic=topic,
            state=message.data,
        )

    def _decode(self, message: StoredMessage, topic: str) -> Any:
        """`Mapper.to_domain_event` without a cipher or a compressor, its lookups cached."""
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (
                cls,
                getattr(cls, "class_version", 1),
                find_id_convertor(cls, UUID),
            )
        cls, class_version, convert_id = known
        state: dict[str, Any] = self.mapper.transcoder.decode(message.data)
        state["originator_id"] = convert_id(self._originator_id(message.subject))
        state["originator_version"] = int(message.headers[VERSION])
        version = state.pop("class_version", 1)
        if version > class_version:
            # A newer Levee's event (an upgrade rolled out of order): read as this version, it would be wrong.
            raise ValueError(f"class_version {version} is newer than this projector's {class_version}")
        while version < class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        event: Any = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    def _originator_id(self, subject: str) -> UUID:
        found = self._ids.get(subject)
        if found is None:
            if len(self._ids) >= self.ID_CACHE:
                self._ids.clear()
            found = self._ids[subject] = UUID(subject.rpartition(".")[2])
        return found
