"""All of Levee's read models as one projection: decode a stored message, and apply its event to each model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.persistence import Mapper, StoredEvent

from events.mapper import make_mapper
from events.store.aggregates import TOPIC, VERSION
from events.store.records import StoredMessage
from projections import complaints, incidents, notices, timeline
from projections.ops import Op

log = structlog.get_logger(__name__)

NAME = "read_models"
Apply = Callable[[Any], list[Op]]
MODELS: tuple[Apply, ...] = (complaints.apply, timeline.apply, incidents.apply, notices.apply)
TABLES = ("complaints", "complaint_timeline", "hotspots", "incidents", "notices")


def apply(event: Any) -> list[Op]:
    """Every op each read model derives from one event, in model order."""
    return [op for model in MODELS for op in model(event)]


class Decoder:
    """StoredMessage -> domain event with the same mapper (and upcasting) the aggregates use."""

    def __init__(self, mapper: Mapper[UUID] | None = None) -> None:
        self.mapper = mapper or make_mapper()

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
            stored = StoredEvent(
                originator_id=UUID(message.subject.rpartition(".")[2]),
                originator_version=int(message.headers[VERSION]),
                topic=topic,
                state=message.data,
            )
            return self.mapper.to_domain_event(stored)
        except Exception as exc:
            log.error("projection_undecodable_event", seq=message.seq, topic=topic, error=repr(exc)[:500])
            return None
