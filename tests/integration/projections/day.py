"""A scripted day of an emergency, written through the domain's own commands: what the read-model tests check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.complaint import Complaint
from events.incident import Incident
from events.mapper import make_mapper
from events.notice import Notice
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore

FACTORS = [{"name": "danger_to_life", "weight": 0.5, "value": 1, "evidence": "water inside home"}]


@dataclass
class Day:
    incident: UUID
    complaints: dict[str, UUID] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)
    notices: dict[str, UUID] = field(default_factory=dict)
    events: int = 0


def _receive(category: str, lat: float, lon: float, channel: str = "hotline", **extra: object) -> Complaint:
    return Complaint.receive(
        channel=channel, description=f"{category} here, Mr Zhang at flat 3B", received_by="operator-chen",
        category=category, lat=lat, lon=lon, people_affected=3, vulnerable=["elderly"],
        reporter_sealed="c2VhbGVk", contact_hash="ab" * 32, **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def _assess(c: Complaint, level: str, score: int) -> None:
    now = datetime.now(UTC)
    minutes = {"P1": (15, 240), "P2": (60, 1440), "P3": (240, 4320), "P4": (1440, 7200)}[level]
    c.assess_priority(
        score, level, FACTORS, now + timedelta(minutes=minutes[0]), now + timedelta(minutes=minutes[1])
    )


def script() -> tuple[Day, list[Aggregate]]:
    incident = Incident.declare(
        title="Riverside flood", kind="flood", districts=["riverside"], declared_by="cmd-wu"
    )
    day = Day(incident=incident.id)

    # The long one: returned, re-dispatched, extended, escalated, resolved, unhappy, reopened, closed.
    long = _receive("flooding", 22.70, 113.80, media_exposure=True)
    long.validate(by="triage")
    long.link_to_incident(incident.id)
    incident.link_complaint(long.id)
    _assess(long, "P1", 88)
    long.dispatch("water", by="dispatch-rules", reason="first guess")
    long.return_dispatch("water", "Standing water is drainage's remit")
    long.dispatch("drainage", by="cmd-wu", reason="re-dispatch after return")
    long.accept("drainage")
    long.note_progress("drainage", "Pump truck on its way", public=True)
    long.note_progress("drainage", "Crew lead phoned Mr Zhang", public=False)
    long.request_extension("drainage", 90, "Road to the estate blocked")
    long.grant_extension(by="cmd-wu", minutes=60)
    long.escalate(1, "Media exposure", by="cmd-wu")
    long.repeat_call("Caller rang again: water rising", "hotline")
    long.resolve("drainage", "Pumped out; drain cleared")
    long.record_follow_up(True, "not_satisfied", "Water back overnight")
    long.reopen("Unsatisfied follow-up")
    long.resolve("drainage", "Permanent pump installed")
    long.record_follow_up(True, "satisfied", "Dry now")
    long.close()

    # Waiting for power to accept: open, P2, dispatched.
    waiting = _receive("power_outage", 22.70, 113.95, channel="web")
    waiting.validate()
    waiting.link_to_incident(incident.id)
    incident.link_complaint(waiting.id)
    _assess(waiting, "P2", 60)
    waiting.dispatch("power", by="dispatch-rules", reason="category route")

    # Accepted and being handled by drainage, P1.
    handling = _receive("flooding", 22.72, 113.81)
    handling.validate()
    _assess(handling, "P1", 91)
    handling.dispatch("drainage", by="dispatch-rules", reason="category route")
    handling.accept("drainage")

    # Settled on the call.
    settled = _receive("water_outage", 22.45, 114.10)
    settled.resolve(
        "hotline_office", "Read out the outage notice", outcome="first_contact", answer_ref="notice:1"
    )
    settled.close()

    rejected = _receive("other", 22.45, 114.30, channel="app")
    rejected.reject("No clear facts")

    duplicate = _receive("flooding", 22.70, 113.80)
    duplicate.mark_duplicate(long.id)

    # Resolved, a follow-up that did not reach the caller, then the caller's data erased.
    redacted = _receive("fallen_tree", 22.80, 114.30, channel="social_media")
    redacted.validate()
    _assess(redacted, "P3", 30)
    redacted.dispatch("parks", by="dispatch-rules", reason="category route")
    redacted.accept("parks")
    redacted.resolve("parks", "Tree removed")
    redacted.attempt_follow_up("No answer from Mrs Li on 13800138000")
    redacted.redact("Citizen asked to be forgotten")

    incident.update_status("identified", by="cmd-wu")

    published = Notice.draft(
        incident_id=incident.id, title_en="Flooding in Riverside", title_zh="河畔区内涝", body_en="Pumps deployed.",
        body_zh="已部署水泵。", status="identified", drafted_by="press-li",
    )  # fmt: skip
    published.approve(by="cmd-wu")
    published.publish()
    published.update(
        title_en="Flooding in Riverside", title_zh="河畔区内涝", body_en="Water receding.", body_zh="积水消退。",
        status="monitoring", updated_by="press-li",
    )  # fmt: skip
    cancelled = Notice.draft(
        incident_id=None, title_en="Test", title_zh="测试", body_en="Draft.", body_zh="草稿。",
        status="investigating", drafted_by="press-li",
    )  # fmt: skip
    cancelled.cancel("Not needed", by="cmd-wu")

    named = {"long": long, "waiting": waiting, "handling": handling, "settled": settled,
             "rejected": rejected, "duplicate": duplicate, "redacted": redacted}  # fmt: skip
    for key, complaint in named.items():
        day.complaints[key] = complaint.id
        day.codes[key] = complaint.tracking_code
    day.notices = {"published": published.id, "cancelled": cancelled.id}
    aggregates: list[Aggregate] = [incident, *named.values(), published, cancelled]
    day.events = sum(len(a.pending_events) for a in aggregates)
    return day, aggregates


async def write_day(store: JetStreamEventStore) -> Day:
    day, aggregates = script()
    repository = AggregateStore(store, make_mapper())
    for aggregate in aggregates:
        await repository.save(aggregate)
    return day
