"""Turning domain events into stored events and back, without an eventsourcing Application.

Services that talk to the store directly use the same transcoder an Application would, so an event
written by one is readable by the other. Upcasting (``upcast_vN_vN+1``) happens in ``to_domain_event``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any, TypeVar, cast, overload
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    UUIDAsHex,
    find_id_convertor,
)
from eventsourcing.utils import TopicError, resolve_topic

A = TypeVar("A", bound=Aggregate)


def make_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


class NewerEventError(Exception):
    """A stored event this code cannot read faithfully: of a kind it does not know, or of a later
    `class_version` than its own. A newer Levee wrote it (an upgrade under way, or rolled out of order).
    Read as this version, a field it adds would be dropped without a word and the aggregate folded wrong, so
    nothing reading that aggregate may act on it: a worker sets the event aside after its tries, the API
    answers 503 until it runs the new version too (docs/operations.md, section 6)."""

    def __init__(self, topic: str, detail: str) -> None:
        super().__init__(f"{topic}: {detail}")
        self.topic = topic


class StrictMapper(Mapper[UUID]):
    """eventsourcing's Mapper, refusing what it would misread: it upcasts an older event, but takes one of a
    newer class_version as if it were its own (and an unknown topic fails with a TopicError nobody expects)."""

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        try:
            cls = resolve_topic(stored_event.topic)
        except TopicError as exc:
            raise NewerEventError(stored_event.topic, "an event kind this version does not know") from exc
        stored_state = stored_event.state
        try:
            if self.cipher:
                stored_state = self.cipher.decrypt(stored_state)
            if self.compressor:
                stored_state = self.compressor.decompress(stored_state)
            state: dict[str, Any] = self.transcoder.decode(stored_state)
        except Exception as exc:
            raise MapperDeserialisationError(
                f"Failed to deserialise the stored event {stored_event.topic} of {stored_event.originator_id} "
                f"at version {stored_event.originator_version}: {exc}"
            ) from exc
        convert_id = find_id_convertor(cls, cast(Hashable, type(stored_event.originator_id)))
        state["originator_id"] = convert_id(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        version = state.pop("class_version", 1)
        if version > class_version:
            raise NewerEventError(
                stored_event.topic, f"class_version {version}, this version reads {class_version}"
            )
        while version < class_version:
            getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            version += 1
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event


def make_mapper() -> Mapper[UUID]:
    return StrictMapper(transcoder=make_transcoder())


@overload
def reconstruct(domain_events: Iterable[Any]) -> Aggregate: ...


@overload
def reconstruct(domain_events: Iterable[Any], kind: type[A]) -> A: ...


def reconstruct(domain_events: Iterable[Any], kind: type[Aggregate] = Aggregate) -> Aggregate:
    """Fold events, oldest first, into the aggregate they describe; checks ids and versions on the way."""
    aggregate: Aggregate | None = None
    for domain_event in domain_events:
        if not isinstance(domain_event, CanMutateAggregate):
            raise TypeError(f"{type(domain_event).__name__} is not an aggregate event")
        aggregate = domain_event.mutate(aggregate)
    if aggregate is None:
        raise ValueError("no events to reconstruct an aggregate from")
    if not isinstance(aggregate, kind):
        raise TypeError(f"events describe a {type(aggregate).__name__}, not a {kind.__name__}")
    return aggregate
