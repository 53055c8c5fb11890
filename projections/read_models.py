"""All of Levee's read models as one projection: decode a stored message, and apply its event to each model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent

from events.mapper import make_mapper
from events.store.aggregates import TOPIC, VERSION
from events.store.records import StoredMessage
from projections import complaints, incidents, notices, timeline
from projections.ops import Op

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
        stored = StoredEvent(
            originator_id=UUID(message.subject.rpartition(".")[2]),
            originator_version=int(message.headers[VERSION]),
            topic=message.headers[TOPIC],
            state=message.data,
        )
        return self.mapper.to_domain_event(stored)
