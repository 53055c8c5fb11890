"""An incident groups the complaints one event causes (a flood in a district, a substation failure)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from events.errors import require, require_text
from events.reference import Reference, load_reference

# The usual public-status wording; notices about an incident use the same words.
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved")


class Incident(Aggregate):
    def __init__(self) -> None:
        self.title: str = ""
        self.kind: str = ""
        self.districts: list[str] = []
        self.declared_by: str = ""
        self.status: str = "investigating"
        self.complaint_ids: list[UUID] = []

    @classmethod
    def declare(
        cls,
        *,
        title: str,
        kind: str,
        districts: list[str],
        declared_by: str,
        reference: Reference | None = None,
    ) -> Incident:
        """An empty ``districts`` list means the whole served area (a typhoon, a citywide outage)."""
        require_text(title, "title")
        require_text(kind, "kind")
        require_text(declared_by, "declared_by")
        ref = reference or load_reference()
        for code in districts:
            ref.district(code)
        return cls._create(
            IncidentDeclared,
            title=title,
            kind=kind,
            districts=list(dict.fromkeys(districts)),
            declared_by=declared_by,
        )

    def update_status(self, status: str, by: str) -> None:
        require(
            status in INCIDENT_STATUSES,
            "unknown_status",
            f"{status!r} is not one of {INCIDENT_STATUSES}.",
            field="status",
        )
        require(
            status != self.status, "status_unchanged", f"The incident is already {status}.", field="status"
        )
        require_text(by, "by")
        # Any move is allowed, including resolved -> investigating: floods come back.
        self.trigger_event(IncidentStatusUpdated, status=status, by=by)

    def position_of(self, complaint_id: UUID) -> int | None:
        """Where the complaint stands among the linked ones (0 for the first), None when it is not linked.

        By a lookup kept beside the state (never stored), since an incident in a surge links thousands."""
        positions: dict[UUID, int] = self.__dict__.setdefault("_positions", {})
        known = len(positions)  # complaint_ids only grows, at its end (ComplaintAddedToIncident)
        if known < len(self.complaint_ids):
            positions.update((c, known + n) for n, c in enumerate(self.complaint_ids[known:]))
        return positions.get(complaint_id)

    def has_complaint(self, complaint_id: UUID) -> bool:
        return self.position_of(complaint_id) is not None

    def link_complaint(self, complaint_id: UUID) -> None:
        """Linking the same complaint twice is refused (``complaint_already_linked``), not ignored:
        a consumer that may see a message twice checks ``incident.has_complaint(complaint_id)`` first.
        """
        require(
            not self.has_complaint(complaint_id),
            "complaint_already_linked",
            "The complaint is already part of this incident.",
            field="complaint_id",
        )
        self.trigger_event(ComplaintAddedToIncident, complaint_id=complaint_id)


class IncidentDeclared(Incident.Created):
    class_version = 1
    title: str
    kind: str
    districts: list[str]
    declared_by: str

    def apply(self, aggregate: Incident) -> None:
        aggregate.title = self.title
        aggregate.kind = self.kind
        aggregate.districts = list(self.districts)
        aggregate.declared_by = self.declared_by


class IncidentStatusUpdated(Incident.Event):
    class_version = 1
    status: str
    by: str

    def apply(self, aggregate: Incident) -> None:
        aggregate.status = self.status


class ComplaintAddedToIncident(Incident.Event):
    class_version = 1
    complaint_id: UUID

    def apply(self, aggregate: Incident) -> None:
        aggregate.complaint_ids.append(self.complaint_id)  # in place: a surge links thousands


INCIDENT_EVENTS: tuple[type[Incident.Event], ...] = (
    IncidentDeclared,
    IncidentStatusUpdated,
    ComplaintAddedToIncident,
)
