"""An incident groups the complaints one event causes (a flood in a district, a substation failure)."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from events.errors import require, require_text
from events.incident_rules import ABSORB_PART, check_merge, check_not_merged
from events.reference import Reference, load_reference
from events.responsible import check_reassignment, person_name
from events.twins import Twin

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
        self.merged_into: UUID | None = None  # ended by merging into that incident (IncidentMerged)
        self.responsible: str | None = None

    @classmethod
    def declare(
        cls,
        *,
        title: str,
        kind: str,
        districts: list[str],
        declared_by: str,
        reference: Reference | None = None,
        id: UUID | None = None,  # as the library names it
    ) -> Incident:
        """An empty ``districts`` list means the whole served area (a typhoon, a citywide outage). ``id``: one
        the caller derived (an idempotent request's); a new random one otherwise."""
        require_text(title, "title")
        require_text(kind, "kind")
        require_text(declared_by, "declared_by")
        ref = reference or load_reference()
        for code in districts:
            ref.district(code)
        return cls._create(
            IncidentDeclared,
            id=id,
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
        check_not_merged(self)
        # Any move is allowed, including resolved -> investigating: floods come back.
        self.trigger_event(IncidentStatusUpdated, status=status, by=by)

    def assign_responsible(self, person: str, by: str, note: str = "") -> None:
        """Name the one person responsible (责任人) for the incident; naming someone else replaces them."""
        check_not_merged(self)  # its complaints are the target's now: name someone there
        require(
            self.status != "resolved",
            "incident_resolved",
            "The incident is resolved; move its status back before naming someone responsible.",
        )
        name = person_name(person)
        # getattr: a snapshot taken before anyone could be named responsible has no such attribute.
        current = getattr(self, "responsible", None)
        check_reassignment(current, name, by)
        self.trigger_event(
            IncidentResponsibleAssigned, person=name, previous=current, by=by, note=note.strip()
        )

    def twin(self) -> Twin[Incident]:
        """As it is now, to fall back on if a worker's changes are not stored (events/twins.py): the linked
        complaints only grow at their end; the position lookup is rebuilt when asked for."""
        twin = Twin(self, derived=("_positions",))
        twin.copy.districts = list(self.districts)
        twin.keep_prefix(twin.copy.__dict__, "complaint_ids")
        return twin

    def position_of(self, complaint_id: UUID) -> int | None:
        """Where the complaint stands among the linked ones (0 for the first), None when it is not linked.

        By a lookup kept beside the state (never stored), since an incident in a surge links thousands."""
        positions: dict[UUID, int] = self.__dict__.setdefault("_positions", {})
        known = len(positions)  # complaint_ids only grows, at its end (links, and a merge's IncidentAbsorbed)
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
            "The complaint is already part of this incident: nothing to do.",
        )  # a state, not a wrong value: 409, as the complaint's side of the same refusal answers
        check_not_merged(self)
        self.trigger_event(ComplaintAddedToIncident, complaint_id=complaint_id)

    @property
    def is_active(self) -> bool:
        """Still an event being handled: not resolved, and not merged into another incident."""
        return self.status != "resolved" and getattr(self, "merged_into", None) is None

    def merge_into(self, target: Incident, by: str, reason: str) -> None:
        """End this incident in ``target`` (the same event seen twice): this one records IncidentMerged and is
        no longer active; the target records IncidentAbsorbed with this one's complaints, which it then counts.

        Both go in one atomic save (each aggregate with its expected position). The complaints' own records
        follow from IncidentAbsorbed (triage moves each open one, exactly once). Parts of ABSORB_PART ids
        keep each event's follow-up within one atomic batch however large the incident."""
        check_merge(self, target, by, reason)
        absorbed = [c for c in self.complaint_ids if not target.has_complaint(c)]
        self.trigger_event(IncidentMerged, into=target.id, by=by, reason=reason)
        for start in range(0, max(len(absorbed), 1), ABSORB_PART):
            part = absorbed[start : start + ABSORB_PART]
            target.trigger_event(IncidentAbsorbed, source_id=self.id, complaint_ids=part, by=by)


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


class IncidentResponsibleAssigned(Incident.Event):
    """The named person responsible (责任人); ``previous`` is whom they replaced (None for the first)."""

    class_version = 1
    person: str
    previous: str | None
    by: str
    note: str

    def apply(self, aggregate: Incident) -> None:
        aggregate.responsible = self.person


class ComplaintAddedToIncident(Incident.Event):
    class_version = 1
    complaint_id: UUID

    def apply(self, aggregate: Incident) -> None:
        aggregate.complaint_ids.append(self.complaint_id)  # in place: a surge links thousands


class IncidentMerged(Incident.Event):
    """This incident ended in ``into`` (one event, seen as two); its status stays as it was."""

    class_version = 1
    into: UUID
    by: str
    reason: str

    def apply(self, aggregate: Incident) -> None:
        aggregate.merged_into = self.into


class IncidentAbsorbed(Incident.Event):
    """This incident took in (part of) a merged one's complaints; a merge writes one or more parts."""

    class_version = 1
    source_id: UUID
    complaint_ids: list[UUID]
    by: str

    def apply(self, aggregate: Incident) -> None:
        aggregate.complaint_ids.extend(self.complaint_ids)  # at the end, in place, as position_of expects


INCIDENT_EVENTS: tuple[type[Incident.Event], ...] = (
    IncidentDeclared,
    IncidentStatusUpdated,
    ComplaintAddedToIncident,
    IncidentResponsibleAssigned,
    IncidentMerged,
    IncidentAbsorbed,
)
