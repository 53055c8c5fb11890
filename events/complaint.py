"""The complaint work order (工单): the aggregate, its commands, and the facts they record.

Commands check the rules in ``events.complaint_rules`` and raise DomainError before any event exists;
events only fold state, so replaying history never re-checks rules that may have changed since.
Event classes are module-level so their stored topics read ``events.complaint:<Name>``: never move them.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from events import complaint_rules as rules
from events.complaint_rules import Status
from events.errors import DomainError, require_text
from events.publishing.redaction import mask
from events.reference import Reference, load_reference

# No 0/O, 1/I/L or U: a code read out over a bad phone line must not be misheard.
_TRACKING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


_TRACKING_LENGTH = 6
_TRACKING_CODES = len(_TRACKING_ALPHABET) ** _TRACKING_LENGTH


def new_tracking_code() -> str:
    """A short public code (``LV-7K3QX9``) a caller can read back; not a secret, not the id."""
    # One uniform draw over every code, read as base-30 digits: the same distribution as six
    # independent choices, for one call to the system's random source instead of six.
    n = secrets.randbelow(_TRACKING_CODES)
    digits = []
    for _ in range(_TRACKING_LENGTH):
        n, digit = divmod(n, len(_TRACKING_ALPHABET))
        digits.append(_TRACKING_ALPHABET[digit])
    return "LV-" + "".join(digits)


class Complaint(Aggregate):
    def __init__(self) -> None:
        # Every attribute starts here; ComplaintReceived.apply fills the intake facts.
        self.tracking_code: str = ""
        self.channel: str = ""
        self.description: str = ""
        self.public_description: str = ""
        self.category: str | None = None  # what triage settled on (ComplaintValidated), else the reporter's
        self.reported_category: str | None = None  # the reporter's own, as received; never changes
        self.lat: float | None = None
        self.lon: float | None = None
        self.district: str | None = None
        self.people_affected: int = 0
        self.vulnerable: list[str] = []
        self.media_exposure: bool = False
        self.reporter_sealed: str | None = None
        self.contact_hash: str | None = None
        self.received_by: str = ""
        self.call_started_at: datetime | None = None
        self.status: Status = Status.RECEIVED
        self.rejection_reason: str | None = None
        self.duplicate_of: UUID | None = None
        self.incident_id: UUID | None = None
        self.priority_score: int | None = None
        self.priority_level: str | None = None
        self.priority_factors: list[dict[str, Any]] = []
        self.accept_by: datetime | None = None
        self.resolve_by: datetime | None = None
        self.department: str | None = None
        self.dispatch_count: int = 0
        self.returned_by: list[str] = []
        self.dispatched_to: list[str] = []  # every department it was dispatched to, in order (repeats kept)
        self.return_count: int = 0
        self.extension_pending: dict[str, Any] | None = None
        self.extensions_granted: int = 0
        self.escalation_level: int = 0
        self.responsible: str | None = None
        self.progress: list[dict[str, Any]] = []
        self.resolved_by: str | None = None
        self.resolution: dict[str, Any] | None = None
        self.follow_ups: list[dict[str, Any]] = []
        self.follow_ups_before_resolution = 0  # follow_ups[this:] were made since the last resolution
        self.follow_up_attempts: int = 0
        self.satisfaction: str | None = None
        self.reopen_count: int = 0
        self.repeat_calls: int = 0
        self.agreed_resolution_at: datetime | None = None
        self.emergency_transfers: list[dict[str, Any]] = []
        self.redacted: bool = False
        self.redacted_at: datetime | None = None
        self.reinstated_by: str | None = None  # command staff who overruled its rejection

    @classmethod
    def receive(
        cls,
        *,
        channel: str,
        description: str,
        received_by: str,
        category: str | None = None,
        lat: float | None = None,
        lon: float | None = None,
        district: str | None = None,
        people_affected: int = 1,
        vulnerable: list[str] | None = None,
        media_exposure: bool = False,
        reporter_sealed: str | None = None,
        contact_hash: str | None = None,
        call_started_at: datetime | None = None,
        tracking_code: str | None = None,
        reference: Reference | None = None,
        public_description: str | None = None,
        complaint_id: UUID | None = None,
    ) -> Complaint:
        """Record intake. A missing district is derived from the location when it falls in one.

        ``public_description`` is the text the public may see: intake passes it masked with the reporter's
        clear name (only intake knows it; the event keeps it sealed). Without it, patterns alone mask it.
        ``complaint_id``: intake's own id (derived from an Idempotency-Key when there is one); else random.
        """
        ref = reference or load_reference()
        vulnerable = list(vulnerable or [])
        tracking_code = tracking_code or new_tracking_code()
        rules.check_receive(
            ref, channel=channel, description=description, category=category, lat=lat, lon=lon,
            district=district, people_affected=people_affected, vulnerable=vulnerable, received_by=received_by,
            tracking_code=tracking_code, call_started_at=call_started_at,
        )  # fmt: skip
        if district is None and lat is not None and lon is not None:
            found = ref.district_at(lat, lon)
            district = found.code if found else None
        return cls._create(
            ComplaintReceived, id=complaint_id, tracking_code=tracking_code, channel=channel, description=description,
            category=category, lat=lat, lon=lon, district=district, people_affected=people_affected,
            vulnerable=vulnerable, media_exposure=bool(media_exposure), reporter_sealed=reporter_sealed,
            contact_hash=contact_hash, received_by=received_by, call_started_at=call_started_at,
            public_description=mask(description) if public_description is None else public_description,
        )  # fmt: skip

    @property
    def is_open(self) -> bool:
        return self.status not in rules.ENDED

    @property
    def contact_typed_by_the_public(self) -> bool:
        """Whether the reporter's contact came from a form anyone can fill in (the public API, Open311 with a
        published api_key), not from staff who took the report (an operator on the call, a staff token's Open311
        request): it may be someone else's number."""
        return self.received_by == "public"

    def validate(
        self, by: str = "system", *, category: str | None = None, reference: Reference | None = None
    ) -> None:
        """``category``: the category triage settled on (the reporter's, or classified from the text)."""
        rules.check_validate(self)
        if category is not None:
            (reference or load_reference()).category(category)  # a known code, or DomainError
        self.trigger_event(ComplaintValidated, by=by, category=category)

    def reject(self, reason: str, by: str = "system") -> None:
        rules.check_reject(self, reason)
        self.trigger_event(ComplaintRejected, reason=reason, by=by)

    def reinstate(
        self,
        reason: str,
        by: str,
        *,
        category: str | None = None,
        district: str | None = None,
        reference: Reference | None = None,
    ) -> None:
        """Command staff overrule a rejection (无效 -> 有效): the complaint is taken after all, as validated, and
        triage scores it and dispatch routes it as any other. ``category``: command's, or None to keep the
        reporter's (required when there is none: dispatch routes by it). ``district``: where it is, when its
        location was wrong (required when the location is outside the served area); the coordinates are dropped."""
        ref = reference or load_reference()
        rules.check_reinstate(self, ref, reason, by, category=category, district=district)
        self.trigger_event(
            ComplaintReinstated, reason=reason.strip(), by=by, category=category, district=district
        )

    def mark_duplicate(self, of_complaint_id: UUID) -> None:
        rules.check_mark_duplicate(self, of_complaint_id)
        self.trigger_event(ComplaintMarkedDuplicate, of_complaint_id=of_complaint_id)

    def link_to_incident(self, incident_id: UUID) -> None:
        rules.check_link_to_incident(self, incident_id)
        self.trigger_event(ComplaintLinkedToIncident, incident_id=incident_id)

    def move_to_incident(self, incident_id: UUID, from_incident_id: UUID) -> None:
        """Follow a merge: from the incident that was merged into ``incident_id`` (link_to_incident refuses a
        complaint that already has an incident)."""
        rules.check_move_to_incident(self, incident_id, from_incident_id)
        self.trigger_event(
            ComplaintMovedToIncident, incident_id=incident_id, from_incident_id=from_incident_id
        )

    def assess_priority(
        self, score: int, level: str, factors: list[dict[str, Any]], accept_by: datetime, resolve_by: datetime
    ) -> None:
        rules.check_assess_priority(self, score, level, factors, accept_by, resolve_by)
        self.trigger_event(
            PriorityAssessed, score=score, level=level, factors=[dict(f) for f in factors],
            accept_by=accept_by, resolve_by=resolve_by,
        )  # fmt: skip

    def dispatch(
        self,
        department: str,
        by: str,
        reason: str,
        *,
        reference: Reference | None = None,
        by_hand: bool = False,
        overrule_return: bool = False,
    ) -> None:
        """Send to a department; also re-dispatch (from returned, or by command staff at any open step).

        ``by_hand``: command staff decided, so an assessment is not needed first; with ``overrule_return`` they
        may send it to a department that returned it."""
        rules.check_dispatch(
            self, reference or load_reference(), department, by, reason, by_hand=by_hand,
            overrule_return=overrule_return,
        )  # fmt: skip
        self.trigger_event(ComplaintDispatched, department=department, by=by, reason=reason)

    def accept(self, department: str) -> None:
        rules.check_accept(self, department)
        self.trigger_event(DispatchAccepted, department=department)

    def return_dispatch(self, department: str, reason: str) -> None:
        rules.check_return(self, department, reason)
        self.trigger_event(DispatchReturned, department=department, reason=reason)

    def request_extension(self, department: str, minutes: int, reason: str) -> None:
        rules.check_request_extension(self, department, minutes, reason)
        self.trigger_event(ExtensionRequested, department=department, minutes=minutes, reason=reason)

    def grant_extension(self, by: str, minutes: int, *, resolve_by: datetime | None = None) -> None:
        """Command may grant a different number of minutes than asked; resolve_by moves by what is granted.
        `resolve_by`: where the open resolve-by moves (events.deadlines.extended_until, what the watcher folds);
        without it, the assessment's resolve-by moved by `minutes`."""
        rules.check_extension_decision(self, by)
        rules.check_minutes(minutes)
        if self.resolve_by is None:
            raise DomainError("no_deadline", "The complaint has no resolve-by time to extend.")
        resolve_by = resolve_by or self.resolve_by + timedelta(minutes=minutes)
        self.trigger_event(ExtensionGranted, by=by, minutes=minutes, resolve_by=resolve_by)

    def deny_extension(self, by: str, reason: str) -> None:
        rules.check_extension_decision(self, by)
        require_text(reason, "reason")
        self.trigger_event(ExtensionDenied, by=by, reason=reason)

    def note_progress(self, department: str, text: str, public: bool = False) -> None:
        rules.check_handling(self, department)
        require_text(text, "text")
        self.trigger_event(ProgressNoted, department=department, text=text, public=bool(public))

    def escalate(self, level: int, reason: str, by: str, *, deadline_missed: bool = False) -> None:
        """``deadline_missed``: the record of one missed deadline, allowed at the level the case already has."""
        rules.check_escalate(self, level, reason, by, deadline_missed=deadline_missed)
        self.trigger_event(ComplaintEscalated, level=level, reason=reason, by=by)

    def assign_responsible(self, person: str, by: str, note: str = "") -> None:
        """Name the one person responsible (责任人); naming someone else replaces them, and the event says whom."""
        name = rules.check_assign_responsible(self, person, by)
        self.trigger_event(
            ComplaintResponsibleAssigned, person=name, previous=getattr(self, "responsible", None), by=by,
            note=note.strip(),
        )  # fmt: skip

    def resolve(
        self,
        department: str,
        summary: str,
        outcome: str = "handled",
        answer_ref: str | None = None,
        *,
        reference: Reference | None = None,
    ) -> None:
        """``first_contact``: settled on the call before dispatch; ``department`` is the operator's office."""
        rules.check_resolve(self, reference or load_reference(), department, summary, outcome, answer_ref)
        self.trigger_event(
            ComplaintResolved, department=department, summary=summary, outcome=outcome, answer_ref=answer_ref
        )

    def record_follow_up(self, contacted: bool, satisfaction: str | None = None, comment: str = "") -> None:
        rules.check_follow_up(self, contacted, satisfaction)
        self.trigger_event(
            FollowUpRecorded, contacted=bool(contacted), satisfaction=satisfaction, comment=comment
        )

    def attempt_follow_up(self, note: str) -> None:
        rules.check_attempt_follow_up(self, note)
        self.trigger_event(FollowUpAttempted, note=note, attempt=self.follow_up_attempts + 1)

    def reopen(self, reason: str) -> None:
        """Back to whoever resolved it: they already own the case, so no new sign-for is needed."""
        rules.check_after_resolve(self)
        require_text(reason, "reason")
        self.trigger_event(ComplaintReopened, reason=reason, department=self.resolved_by)

    def reopen_and_escalate_repeats(self, reason: str, by: str) -> None:
        """Reopen; from the second reopening the case goes to command (level 2): the department has not
        settled it twice."""
        self.reopen(reason)
        if self.reopen_count >= 2 and self.escalation_level < 2:
            self.escalate(2, f"reopened {self.reopen_count} times: {reason}", by=by)

    def close(self) -> None:
        rules.check_close(self)
        self.trigger_event(ComplaintClosed)

    def repeat_call(self, note: str, channel: str, *, reference: Reference | None = None) -> None:
        rules.check_not_ended(self)
        rules.check_channel(reference or load_reference(), channel)
        self.trigger_event(ComplaintCallRepeated, note=note, channel=channel)

    def agree_resolution_time(
        self,
        agreed_at: datetime,
        now: datetime,
        approved_by_command: bool = False,
        *,
        due: datetime | None = None,
    ) -> None:
        """`due`: the latest time agreeable without command (events.deadlines.agreeable_until: the resolve-by the
        watcher has now); without it, the assessment's resolve-by."""
        rules.check_agree_resolution_time(self, agreed_at, now, approved_by_command, due=due)
        self.trigger_event(
            ResolutionTimeAgreed, agreed_at=agreed_at, approved_by_command=bool(approved_by_command)
        )

    def record_emergency_transfer(self, service: str, by: str, reason: str) -> None:
        """Life first: the caller was put through to 110 (police), 119 (fire and rescue) or 120 (ambulance)."""
        rules.check_emergency_transfer(self, service, by, reason)
        self.trigger_event(EmergencyTransferRecorded, service=service, by=by, reason=reason)

    def redact(self, reason: str) -> None:
        """Record that the personal-data key was erased; allowed even after close."""
        rules.check_redact(self, reason)
        self.trigger_event(ComplaintRedacted, reason=reason)


# ---- events: immutable facts; apply() folds each into the aggregate and never checks rules ----


class ComplaintReceived(Complaint.Created):
    # v2 added call_started_at (when the operator picked up), to measure time-to-answer.
    # v3 added public_description: the description with personal data masked, for public outputs.
    class_version = 3
    tracking_code: str
    channel: str
    description: str
    category: str | None
    lat: float | None
    lon: float | None
    district: str | None
    people_affected: int
    vulnerable: list[str]
    media_exposure: bool
    reporter_sealed: str | None
    contact_hash: str | None
    received_by: str
    call_started_at: datetime | None
    public_description: str

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["call_started_at"] = None

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        # The reporter's name is sealed in the event, so an old event is masked by patterns alone.
        state["public_description"] = mask(state["description"])

    def apply(self, aggregate: Complaint) -> None:
        for name in (
            "tracking_code", "channel", "description", "category", "lat", "lon", "district", "people_affected",
            "media_exposure", "reporter_sealed", "contact_hash", "received_by", "call_started_at",
            "public_description",
        ):  # fmt: skip
            setattr(aggregate, name, getattr(self, name))
        aggregate.reported_category = self.category
        aggregate.vulnerable = list(self.vulnerable)


class ComplaintValidated(Complaint.Event):
    # v2 added category: what triage settled on (classified from the text when the reporter gave none), so
    # routing, the board and Open311 see it; None leaves the complaint's category as it was.
    class_version = 2
    by: str
    category: str | None

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["category"] = None

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.VALIDATED
        if self.category is not None:
            aggregate.category = self.category


class ComplaintRejected(Complaint.Event):
    class_version = 1
    reason: str
    by: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.REJECTED
        aggregate.rejection_reason = self.reason


class ComplaintReinstated(Complaint.Event):
    """A rejection overruled by command staff: validated after all. ``category``: command's, or None to keep the
    complaint's. ``district``: command's when the reported location was wrong (its coordinates are dropped: a
    point outside the area, or in another district, would place and match it wrongly), or None."""

    class_version = 1
    reason: str
    by: str
    category: str | None
    district: str | None

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.VALIDATED
        aggregate.rejection_reason = None
        aggregate.reinstated_by = self.by
        if self.category is not None:
            aggregate.category = self.category
        if self.district is not None:  # the reported location was wrong: the district replaces it
            aggregate.district = self.district
            aggregate.lat = aggregate.lon = None


class ComplaintMarkedDuplicate(Complaint.Event):
    class_version = 1
    of_complaint_id: UUID

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.DUPLICATE
        aggregate.duplicate_of = self.of_complaint_id


class ComplaintLinkedToIncident(Complaint.Event):
    class_version = 1
    incident_id: UUID

    def apply(self, aggregate: Complaint) -> None:
        aggregate.incident_id = self.incident_id


class ComplaintMovedToIncident(Complaint.Event):
    """Its incident was merged into ``incident_id``: the complaint now belongs to that one."""

    class_version = 1
    incident_id: UUID
    from_incident_id: UUID

    def apply(self, aggregate: Complaint) -> None:
        aggregate.incident_id = self.incident_id


class PriorityAssessed(Complaint.Event):
    class_version = 1
    score: int
    level: str
    factors: list[dict[str, Any]]
    accept_by: datetime
    resolve_by: datetime

    def apply(self, aggregate: Complaint) -> None:
        # Re-assessment keeps the case where it is; only a fresh validated complaint moves on.
        if aggregate.status == Status.VALIDATED:
            aggregate.status = Status.PRIORITISED
        aggregate.priority_score = self.score
        aggregate.priority_level = self.level
        aggregate.priority_factors = [dict(f) for f in self.factors]
        aggregate.accept_by = self.accept_by
        aggregate.resolve_by = self.resolve_by


class ComplaintDispatched(Complaint.Event):
    class_version = 1
    department: str
    by: str
    reason: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.DISPATCHED
        aggregate.department = self.department
        aggregate.dispatch_count += 1
        # getattr: a snapshot taken before this attribute existed has none (its earlier dispatches are unknown).
        aggregate.dispatched_to = [*getattr(aggregate, "dispatched_to", []), self.department]
        # A pending extension belonged to the previous department.
        aggregate.extension_pending = None


class DispatchAccepted(Complaint.Event):
    class_version = 1
    department: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.ACCEPTED


class DispatchReturned(Complaint.Event):
    class_version = 1
    department: str
    reason: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.RETURNED
        aggregate.department = None
        aggregate.returned_by = [*aggregate.returned_by, self.department]
        aggregate.return_count += 1
        aggregate.extension_pending = None


class ExtensionRequested(Complaint.Event):
    class_version = 1
    department: str
    minutes: int
    reason: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.extension_pending = {
            "department": self.department,
            "minutes": self.minutes,
            "reason": self.reason,
        }


class ExtensionGranted(Complaint.Event):
    class_version = 1
    by: str
    minutes: int
    resolve_by: datetime

    def apply(self, aggregate: Complaint) -> None:
        aggregate.extension_pending = None
        aggregate.extensions_granted += 1
        aggregate.resolve_by = self.resolve_by


class ExtensionDenied(Complaint.Event):
    class_version = 1
    by: str
    reason: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.extension_pending = None


class ProgressNoted(Complaint.Event):
    class_version = 1
    department: str
    text: str
    public: bool

    def apply(self, aggregate: Complaint) -> None:
        note = {"department": self.department, "text": self.text, "public": self.public, "at": self.timestamp}
        aggregate.progress = [*aggregate.progress, note]


class ComplaintEscalated(Complaint.Event):
    class_version = 1
    level: int
    reason: str
    by: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.escalation_level = self.level


class ComplaintResponsibleAssigned(Complaint.Event):
    """The named person responsible (责任人); ``previous`` is whom they replaced (None for the first)."""

    class_version = 1
    person: str
    previous: str | None
    by: str
    note: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.responsible = self.person


class ComplaintResolved(Complaint.Event):
    class_version = 1
    department: str
    summary: str
    outcome: str
    answer_ref: str | None

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.RESOLVED
        aggregate.resolved_by = self.department
        aggregate.follow_ups_before_resolution = len(aggregate.follow_ups)
        aggregate.extension_pending = None
        aggregate.resolution = {
            "department": self.department,
            "summary": self.summary,
            "outcome": self.outcome,
            "answer_ref": self.answer_ref,
            "at": self.timestamp,
        }


class FollowUpRecorded(Complaint.Event):
    class_version = 1
    contacted: bool
    satisfaction: str | None
    comment: str

    def apply(self, aggregate: Complaint) -> None:
        entry = {"contacted": self.contacted, "satisfaction": self.satisfaction, "comment": self.comment}
        aggregate.follow_ups = [*aggregate.follow_ups, entry]
        if self.contacted:
            aggregate.status = Status.FOLLOWED_UP
            aggregate.satisfaction = self.satisfaction


class FollowUpAttempted(Complaint.Event):
    class_version = 1
    note: str
    attempt: int

    def apply(self, aggregate: Complaint) -> None:
        aggregate.follow_up_attempts = self.attempt


class ComplaintReopened(Complaint.Event):
    class_version = 1
    reason: str
    department: str | None

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.REOPENED
        aggregate.department = self.department
        aggregate.reopen_count += 1
        aggregate.resolution = None
        aggregate.satisfaction = None
        aggregate.follow_up_attempts = 0


class ComplaintClosed(Complaint.Event):
    class_version = 1

    def apply(self, aggregate: Complaint) -> None:
        aggregate.status = Status.CLOSED


class ComplaintCallRepeated(Complaint.Event):
    class_version = 1
    note: str
    channel: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.repeat_calls += 1


class ResolutionTimeAgreed(Complaint.Event):
    # v2: agreed_at in UTC, at most 90 days ahead (complaint_rules.AGREED_AT_MOST).
    class_version = 2
    agreed_at: datetime
    approved_by_command: bool

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Stored before 2026-12-07 as given, in any offset and unbounded: one past what UTC can hold
        # (9999-12-31T23:59:59-01:00) stopped the read models, and a rebuild with them. Now in UTC, and one no
        # date can hold is the latest one can.
        agreed: datetime = state["agreed_at"]
        try:
            state["agreed_at"] = agreed.astimezone(UTC)
        except OverflowError:
            state["agreed_at"] = datetime.max.replace(tzinfo=UTC)

    def apply(self, aggregate: Complaint) -> None:
        aggregate.agreed_resolution_at = self.agreed_at


class EmergencyTransferRecorded(Complaint.Event):
    """The operator transferred the caller to an emergency service; when is the event's timestamp."""

    class_version = 1
    service: str
    by: str
    reason: str

    def apply(self, aggregate: Complaint) -> None:
        entry = {"service": self.service, "by": self.by, "reason": self.reason, "at": self.timestamp}
        # getattr: a snapshot taken before this event type existed has no such attribute.
        aggregate.emergency_transfers = [*getattr(aggregate, "emergency_transfers", []), entry]


class ComplaintRedacted(Complaint.Event):
    """The complaint's personal-data key was erased (in the key store): when (timestamp) and why."""

    class_version = 1
    reason: str

    def apply(self, aggregate: Complaint) -> None:
        aggregate.redacted = True
        aggregate.redacted_at = self.timestamp
        aggregate.reporter_sealed = None
        aggregate.contact_hash = None


COMPLAINT_EVENTS: tuple[type[Complaint.Event], ...] = (
    ComplaintReceived, ComplaintValidated, ComplaintRejected, ComplaintMarkedDuplicate, ComplaintLinkedToIncident,
    PriorityAssessed, ComplaintDispatched, DispatchAccepted, DispatchReturned, ExtensionRequested,
    ExtensionGranted, ExtensionDenied, ProgressNoted, ComplaintEscalated, ComplaintResolved, FollowUpRecorded,
    FollowUpAttempted, ComplaintReopened, ComplaintClosed, ComplaintCallRepeated, ResolutionTimeAgreed,
    ComplaintRedacted, EmergencyTransferRecorded, ComplaintResponsibleAssigned, ComplaintMovedToIncident,
    ComplaintReinstated,
)  # fmt: skip
