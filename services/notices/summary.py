"""Progress summaries of an incident, pure: aggregate figures only, in English and Chinese.

A summary never names anyone: it counts complaints received, dispatched and resolved, and the median time
from receipt to a department's sign-for. Its notice id is derived from the incident and the occasion
(the 50th complaint, the 14:00 slot), so drafting it twice, after a crash or by two instances, is one draft.
Drafts on the linked count come at widening thresholds (20, 50, 100, ... 5000, then every 5000): a surge
of thousands leaves press officers a handful to approve, not hundreds. An incident with fewer linked
complaints than ``min_complaints`` (two people reporting one fallen tree) gets no automatic draft at all.
"""

from __future__ import annotations

import statistics
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any
from uuid import UUID

from events.complaint import (
    ComplaintDispatched,
    ComplaintMarkedDuplicate,
    ComplaintReceived,
    ComplaintReinstated,
    ComplaintRejected,
    ComplaintReopened,
    ComplaintResolved,
    DispatchAccepted,
)
from events.notice import SUMMARY_AUTHOR
from events.reference import load_reference

SUMMARY_NAMESPACE = UUID("6c1f3c2e-5d0b-4f4e-9a59-2a8c1b7e9d10")
DRAFTED_BY = SUMMARY_AUTHOR


@dataclass(frozen=True)
class SummaryPolicy:
    # A draft when the linked count reaches each threshold, then at every multiple of the last. Widening,
    # because each summary costs more as the incident grows and each waits for a press officer.
    thresholds: tuple[int, ...] = (20, 50, 100, 200, 500, 1000, 2000, 5000)
    every: timedelta = timedelta(hours=1)  # and one per active incident per period
    # The city's time zone, from the reference data (a deployment's LEVEE_REFERENCE): summaries print its time.
    tz: tzinfo = field(default_factory=lambda: load_reference().area.tz)
    # Below this many linked complaints no automatic draft, on a threshold or a period: no public bulletin
    # for a two-report incident unless press writes one.
    min_complaints: int = 5

    def __post_init__(self) -> None:
        if self.min_complaints < 1:
            raise ValueError(f"SummaryPolicy.min_complaints must be at least 1, got {self.min_complaints}")
        if not self.thresholds:
            raise ValueError("SummaryPolicy.thresholds must not be empty")
        if self.thresholds[0] <= 0:
            raise ValueError(f"SummaryPolicy.thresholds must be positive, got {self.thresholds}")
        if any(a >= b for a, b in pairwise(self.thresholds)):
            raise ValueError(f"SummaryPolicy.thresholds must be strictly increasing, got {self.thresholds}")

    def summarises(self, count: int) -> bool:
        """Whether an incident of ``count`` linked complaints gets automatic summaries at all."""
        return count >= self.min_complaints

    def drafts_at(self, count: int) -> bool:
        """Whether the complaint that brings the linked count to ``count`` brings a summary draft."""
        last = self.thresholds[-1]
        on_threshold = count in self.thresholds or (count > last and count % last == 0)
        return on_threshold and self.summarises(count)


@dataclass(frozen=True)
class ComplaintFacts:
    received_at: datetime
    dispatched: bool = False
    accepted_at: datetime | None = None
    resolved: bool = False  # now: a reopened complaint is not resolved until it is resolved again
    counted: bool = True  # rejected (无效) or marked a duplicate: not one of the incident's reports
    version: int = 0  # the complaint's last event these facts include


@dataclass(frozen=True)
class Figures:
    received: int
    dispatched: int
    resolved: int
    median_minutes_to_accept: float | None


def _fold(facts: ComplaintFacts, event: Any) -> ComplaintFacts:
    if isinstance(event, ComplaintDispatched):
        facts = replace(facts, dispatched=True)
    elif isinstance(event, DispatchAccepted) and facts.accepted_at is None:
        facts = replace(facts, accepted_at=event.timestamp)
    elif isinstance(event, ComplaintResolved):
        facts = replace(facts, resolved=True)
    elif isinstance(event, ComplaintReopened):
        facts = replace(facts, resolved=False)
    elif isinstance(event, ComplaintRejected | ComplaintMarkedDuplicate):
        facts = replace(facts, counted=False)
    elif isinstance(event, ComplaintReinstated):
        facts = replace(facts, counted=True)  # command overruled the rejection
    return replace(facts, version=event.originator_version)


def facts_from_history(events: Iterable[Any]) -> ComplaintFacts | None:
    facts: ComplaintFacts | None = None
    for event in events:
        if isinstance(event, ComplaintReceived):
            facts = ComplaintFacts(event.timestamp, version=event.originator_version)
        elif facts is not None:
            facts = _fold(facts, event)
    return facts


class FactsMemo:
    """Each complaint's facts as the notices worker reads its events, so a summary need not read every
    member's history again (an incident of thousands made each summary cost thousands of reads).

    Each entry knows the last event it includes: an event applied twice, or one a history read already held,
    changes nothing (a reopen undoes a resolution, so order matters). A complaint whose receipt the memo never
    saw is not in it: its history is read when a summary needs it. Bounded, least recently used first out.
    """

    def __init__(self, size: int = 200_000) -> None:
        self.size = size
        self._facts: OrderedDict[UUID, ComplaintFacts] = OrderedDict()
        # The last version of an event observed for a complaint the memo does not hold (bounded the same way).
        self._unheld: OrderedDict[UUID, int] = OrderedDict()

    def get(self, complaint_id: UUID) -> ComplaintFacts | None:
        return self._facts.get(complaint_id)

    def put(self, complaint_id: UUID, facts: ComplaintFacts) -> None:
        """A history read's facts, unless the memo already holds later ones (two reads landing oldest last, or
        events observed since the read began): facts never go back in a complaint's history."""
        current = self._facts.get(complaint_id)
        if current is not None and current.version >= facts.version:
            self._facts.move_to_end(complaint_id)
            return
        if self._unheld.get(complaint_id, 0) > facts.version:
            return  # an event came past while the history was read: read again next time, not kept stale
        self._unheld.pop(complaint_id, None)
        self._remember(self._facts, complaint_id, facts)

    def _remember(self, held: OrderedDict[UUID, Any], complaint_id: UUID, value: Any) -> None:
        """Newest last; the least recently used go once `size` is passed."""
        held[complaint_id] = value
        held.move_to_end(complaint_id)
        while len(held) > self.size:
            held.popitem(last=False)

    def observe(self, event: Any) -> None:
        complaint_id = event.originator_id
        current = self._facts.get(complaint_id)
        if isinstance(event, ComplaintReceived):
            if current is None:
                self.put(complaint_id, ComplaintFacts(event.timestamp, version=event.originator_version))
            return
        if current is None:
            self._remember(self._unheld, complaint_id, event.originator_version)
            return
        if event.originator_version <= current.version:
            return
        self._facts[complaint_id] = _fold(current, event)


FACT_EVENTS = (
    ComplaintReceived, ComplaintDispatched, DispatchAccepted, ComplaintResolved, ComplaintReopened,
    ComplaintRejected, ComplaintMarkedDuplicate, ComplaintReinstated,
)  # fmt: skip


def figures(facts: Iterable[ComplaintFacts]) -> Figures:
    facts = [f for f in facts if f.counted]
    waits = [(f.accepted_at - f.received_at).total_seconds() / 60 for f in facts if f.accepted_at]
    return Figures(
        received=len(facts),
        dispatched=sum(f.dispatched for f in facts),
        resolved=sum(f.resolved for f in facts),
        median_minutes_to_accept=round(statistics.median(waits), 1) if waits else None,
    )


def summary_notice_id(incident_id: UUID, occasion: str) -> UUID:
    return uuid.uuid5(SUMMARY_NAMESPACE, f"{incident_id}/{occasion}")


def slot_occasion(now: datetime, every: timedelta) -> str:
    """The scheduled slot ``now`` falls in, as text: the same for every instant of the slot."""
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    start = epoch + every * ((now - epoch) // every)
    return f"slot-{start:%Y%m%dT%H%M%SZ}"


def summary_text(
    *,
    title: str,
    area_en: str,
    area_zh: str,
    status: str,
    numbers: Figures,
    as_of: datetime,
    tz: tzinfo,
    title_zh: str | None = None,
) -> dict[str, str]:
    """The Notice fields (title_en/zh, body_en/zh, status) of a progress summary; `title_zh` when the
    incident's title has a Chinese form (else `title` serves both)."""
    local = as_of.astimezone(tz)
    when, offset = local.strftime("%Y-%m-%d %H:%M"), local.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}"  # "UTC+08:00": what the reader needs, whatever the zone's name
    median = numbers.median_minutes_to_accept
    wait_en = f"{median:g} minutes" if median is not None else "not yet measured"
    wait_zh = f"{median:g} 分钟" if median is not None else "暂无数据"
    return {
        "title_en": f"Progress update: {title} ({area_en})",
        "title_zh": f"处置进展通报：{title_zh or title}（{area_zh}）",
        "body_en": (
            f"As of {when} ({zone}), {numbers.received} reports about this incident have been "
            f"received, {numbers.dispatched} have been passed to the responsible departments and "
            f"{numbers.resolved} have been resolved. Median time for a department to take a report: {wait_en}."
        ),
        "body_zh": (
            f"截至{when}（{zone}），本事件共受理群众诉求{numbers.received}件，"
            f"已派发责任部门{numbers.dispatched}件，已办结{numbers.resolved}件。"
            f"部门签收用时中位数：{wait_zh}。"
        ),
        "status": status,
    }
