"""A typhoon night for the command board, written through the domain's own commands.

Three big incidents are declared first and a tail of small ones after them (so newest-first would bury the big
ones); P1s are escalated to command at once, as dispatch does; and a few cases are command's one by one (in no
incident, or in the command queue). Overdue is set by the assessment: a case assessed with its accept-by
already past and not dispatched yet is overdue now (a dispatch after the miss would give the department a clock
of its own), so the expected counts hold at any `now` within the next two hours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from events.complaint import Complaint
from events.incident import Incident
from events.reference import COMMAND_QUEUE, load_reference
from services.dispatch.command_queue import with_command_queue
from services.triage.incidents import incident_title

DEPARTMENT = {"power_outage": "power", "flooding": "drainage", "water_outage": "water", "gas_leak": "gas",
              "fallen_tree": "parks", "road_blocked": "roads", "telecom_outage": "telecom"}  # fmt: skip
SMALL = [("fallen_tree", "westbay"), ("road_blocked", "eastpoint"), ("telecom_outage", "northgate"),
         ("fallen_tree", "riverside"), ("road_blocked", "central_hills"), ("telecom_outage", "old_town"),
         ("fallen_tree", "eastpoint"), ("road_blocked", "westbay"), ("telecom_outage", "riverside"),
         ("fallen_tree", "northgate"), ("road_blocked", "newfield"), ("telecom_outage", "central_hills")]  # fmt: skip
P1_WHY = "P1: sent to command at once"


@dataclass
class Night:
    incidents: dict[str, UUID] = field(default_factory=dict)  # "power", "flood", "water", "small-1", ...
    titles: dict[str, str] = field(default_factory=dict)
    cases: dict[str, UUID] = field(default_factory=dict)  # the cases command decides one by one
    aggregates: list[Aggregate] = field(default_factory=list)

    def declare(self, key: str, category: str, district: str) -> Incident:
        incident = Incident.declare(title=incident_title(category, district), kind=category,
                                    districts=[district], declared_by="triage")  # fmt: skip
        self.incidents[key], self.titles[key] = incident.id, incident.title
        self.aggregates.append(incident)
        return incident

    def case(
        self, category: str, district: str, level: str, *, incident: Incident | None = None, overdue: bool = False,
        accepted: bool = False, escalate: str | None = None, media: bool = False,
    ) -> Complaint:  # fmt: skip
        """A complaint assessed at `level`; dispatched to its category's department unless `overdue` (then it
        waits, past its accept-by), and signed for when `accepted`; escalated to level 2 for `escalate` when
        given, and linked to `incident`."""
        c = _received(category, district, media)
        _assess(c, level, overdue=overdue)
        department = DEPARTMENT[category]
        if not overdue:
            c.dispatch(department, by="dispatch-rules", reason="category route")
        if accepted:
            c.accept(department)
        if escalate:
            c.escalate(2, escalate, by="dispatch-rules")
        self._link(c, incident)
        self.aggregates.append(c)
        return c

    def queued(self, category: str, district: str, *, incident: Incident | None = None) -> Complaint:
        """A P3 case dispatch could place nowhere: in the command queue, as dispatch sends it there."""
        c = _received(category, district, False)
        _assess(c, "P3", overdue=False)
        reference = with_command_queue(load_reference(), COMMAND_QUEUE)
        c.dispatch(COMMAND_QUEUE, by="dispatch-rules", reason="no department takes this", reference=reference)
        self._link(c, incident)
        self.aggregates.append(c)
        return c

    @staticmethod
    def _link(c: Complaint, incident: Incident | None) -> None:
        if incident is not None:
            c.link_to_incident(incident.id)
            incident.link_complaint(c.id)


def _received(category: str, district: str, media: bool) -> Complaint:
    box = next(d.bbox for d in load_reference().districts if d.code == district)
    c = Complaint.receive(
        channel="hotline", description=f"{category} in {district}", received_by="operator-drill",
        category=category, lat=(box.south + box.north) / 2, lon=(box.west + box.east) / 2, district=district,
        media_exposure=media, reporter_sealed="c2VhbGVk", contact_hash="ab" * 32,
    )  # fmt: skip
    c.validate(by="triage")
    return c


def _assess(c: Complaint, level: str, *, overdue: bool) -> None:
    now = datetime.now(UTC)
    accept_by = now - timedelta(minutes=10) if overdue else now + timedelta(hours=2)
    factors = [{"name": "danger_to_life", "weight": 0.5, "value": 1, "evidence": "typhoon"}]
    c.assess_priority(
        {"P1": 90, "P2": 70, "P3": 40}[level], level, factors, accept_by, now + timedelta(hours=8)
    )


def typhoon_night(small: int = 4) -> Night:
    """Expected, most urgent first. Incidents (open P1, overdue, open): flood (5, 0, 5), power (4, 3, 6),
    water (2, 2, 3), small-1 (0, 1, 1), then the other small ones (0, 0, 1), newest first. With command by
    incident (escalated, P1, overdue, in the command queue): flood (5, 5, 0, 0), power (4, 4, 3, 0),
    water (3, 2, 2, 1). One by one: overdue-loner (overdue), then the newest arrival first: queued, loner,
    water-queue (the water incident's command-queue case)."""
    night = Night()
    power = night.declare("power", "power_outage", "old_town")  # declared first: the oldest
    flood = night.declare("flood", "flooding", "harbourfront")
    water = night.declare("water", "water_outage", "newfield")
    for i in range(4):
        night.case(
            "power_outage", "old_town", "P1", incident=power, overdue=i < 3, accepted=i == 3, escalate=P1_WHY
        )
    for _ in range(2):
        night.case("power_outage", "old_town", "P3", incident=power)
    for _ in range(5):
        night.case("flooding", "harbourfront", "P1", incident=flood, accepted=True, escalate=P1_WHY)
    for _ in range(2):
        night.case("water_outage", "newfield", "P1", incident=water, overdue=True, escalate=P1_WHY)
    night.cases["water-queue"] = night.queued("water_outage", "newfield", incident=water).id
    for n, (category, district) in enumerate(SMALL[:small], start=1):
        tail = night.declare(f"small-{n}", category, district)
        night.case(category, district, "P2" if n == 1 else "P3", incident=tail, overdue=n == 1)
    night.cases["loner"] = night.case("fallen_tree", "old_town", "P1", accepted=True, escalate=P1_WHY).id
    night.cases["queued"] = night.queued("telecom_outage", "westbay").id
    night.cases["overdue-loner"] = night.case(
        "gas_leak", "riverside", "P2", overdue=True, escalate="major complaint: media exposure", media=True
    ).id
    return night
