"""Turning domain events into stored events and back, without an eventsourcing Application.

Services that talk to the store directly use the same transcoder an Application would, so an event
written by one is readable by the other. Upcasting (``upcast_vN_vN+1``) happens in ``to_domain_event``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, overload
from uuid import UUID

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Mapper, UUIDAsHex

A = TypeVar("A", bound=Aggregate)


def make_transcoder() -> JSONTranscoder:
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


def make_mapper() -> Mapper[UUID]:
    return Mapper(transcoder=make_transcoder())


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
