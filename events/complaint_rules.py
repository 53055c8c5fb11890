"""Which complaint commands make sense in which state. Pure checks: they raise DomainError or return.

Kept apart from the aggregate so the rules read as one table and the aggregate stays a list of facts.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from uuid import UUID

from events.errors import DomainError, require, require_text
from events.reference import LEVELS, Reference
from events.responsible import check_reassignment, person_name

if TYPE_CHECKING:
    from events.complaint import Complaint


class Status(StrEnum):
    RECEIVED = "received"
    VALIDATED = "validated"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    PRIORITISED = "prioritised"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RETURNED = "returned"
    RESOLVED = "resolved"
    FOLLOWED_UP = "followed_up"
    REOPENED = "reopened"
    CLOSED = "closed"


# Nothing but redaction happens to a complaint in one of these states.
ENDED = frozenset({Status.REJECTED, Status.DUPLICATE, Status.CLOSED})
BEFORE_DISPATCH = frozenset({Status.RECEIVED, Status.VALIDATED, Status.PRIORITISED})
# The department holds the case and is working on it (a reopened case goes back to its resolver).
HANDLING = frozenset({Status.ACCEPTED, Status.REOPENED})
AFTER_RESOLVE = frozenset({Status.RESOLVED, Status.FOLLOWED_UP})

OUTCOMES = ("handled", "first_contact")
SATISFACTION = ("satisfied", "partly_satisfied", "not_satisfied")
FACTOR_KEYS = frozenset({"name", "weight", "value", "evidence"})
MAX_FOLLOW_UP_ATTEMPTS = 3
# 110 police, 119 fire and rescue, 120 ambulance: where a danger to life happening now belongs first.
EMERGENCY_SERVICES = ("110", "119", "120")
TRACKING_CODE = re.compile(r"^LV-[0-9A-HJKMNP-TV-Z]{6}$")
# Spaces (and the invisible ones a paste brings), and every dash a keyboard or an IME gives, dots and tildes.
_CODE_SEPARATORS = re.compile(r"[\s\-_.~\u200b-\u200d\ufeff\u2010-\u2015\u2212\u30fc\u4e00\uff0d]+")


def normal_tracking_code(text: str) -> str:
    """A tracking code as people type or paste it: full-width (a Chinese keyboard's ＬＶ－７Ｋ３ＱＸ９), with any
    dash or space or none, in any case, with or without its LV- prefix, with the punctuation a copy from an SMS
    brings (LV-7K3QX9。 or ，: Levee's own Open311 notice puts a full-width comma after it; LV：7K3QX9). The
    code's alphabet has no punctuation. Anything else is left for the lookup to find nothing."""
    wide = unicodedata.normalize("NFKC", text)
    compact = _CODE_SEPARATORS.sub("", "".join(c for c in wide if not unicodedata.category(c).startswith("P")))
    compact = compact.upper()
    body = compact.removeprefix("LV")  # no code's own characters begin with L: the alphabet has none
    return f"LV-{body}" if body else ""


def check_not_ended(c: Complaint) -> None:
    require(
        c.status != Status.CLOSED,
        "complaint_closed",
        "The complaint is closed; nothing more can happen to it.",
    )
    require(c.status != Status.REJECTED, "complaint_rejected", "The complaint was rejected as invalid.")
    require(
        c.status != Status.DUPLICATE,
        "complaint_duplicate",
        "The complaint is a duplicate; act on the original.",
    )


def check_aware(value: datetime, field: str) -> None:
    # Deadlines are compared across services and time zones; a naive time is ambiguous.
    require(
        isinstance(value, datetime) and value.tzinfo is not None,
        "naive_datetime",
        f"{field} must be a timezone-aware datetime.",
        field=field,
    )


def check_receive(
    ref: Reference,
    *,
    channel: str,
    description: str,
    category: str | None,
    lat: float | None,
    lon: float | None,
    district: str | None,
    people_affected: int,
    vulnerable: list[str],
    received_by: str,
    tracking_code: str,
    call_started_at: datetime | None,
) -> None:
    check_channel(ref, channel)
    require_text(description, "description")
    require_text(received_by, "received_by")
    if category is not None:
        ref.category(category)
    if district is not None:
        ref.district(district)
    require(
        (lat is None) == (lon is None),
        "invalid_location",
        "Give both latitude and longitude, or neither.",
        field="lat",
    )
    if lat is not None and lon is not None:
        require(
            -90 <= lat <= 90 and -180 <= lon <= 180,
            "invalid_location",
            "Coordinates out of range.",
            field="lat",
        )
    require(
        isinstance(people_affected, int) and not isinstance(people_affected, bool) and people_affected >= 0,
        "people_affected_negative",
        "The number of people affected cannot be negative.",
        field="people_affected",
    )
    for kind in vulnerable:
        if kind not in ref.vulnerable_kinds:  # the message built only when refused: intake's hot path
            raise DomainError(
                "unknown_vulnerable_kind",
                f"{kind!r} is not one of {ref.vulnerable_kinds}.",
                field="vulnerable",
            )
    require(
        TRACKING_CODE.match(tracking_code) is not None,
        "invalid_tracking_code",
        "A tracking code looks like LV-7K3QX9.",
        field="tracking_code",
    )
    if call_started_at is not None:
        check_aware(call_started_at, "call_started_at")


def check_channel(ref: Reference, channel: str) -> None:
    if channel not in ref.channels:  # the message built only when refused: intake's hot path
        raise DomainError("unknown_channel", f"{channel!r} is not one of {ref.channels}.", field="channel")


def check_validate(c: Complaint) -> None:
    check_not_ended(c)
    require(
        c.status == Status.RECEIVED,
        "not_awaiting_validation",
        f"Only a newly received complaint can be validated; this one is {c.status}.",
    )


def check_reject(c: Complaint, reason: str) -> None:
    check_not_ended(c)
    # A validated complaint may still turn out invalid (e.g. outside the remit) until it is assessed.
    require(
        c.status in (Status.RECEIVED, Status.VALIDATED),
        "not_awaiting_validation",
        f"Only a complaint not yet assessed can be rejected; this one is {c.status}.",
    )
    require_text(reason, "reason")


def check_reinstate(
    c: Complaint, ref: Reference, reason: str, by: str, *, category: str | None, district: str | None
) -> None:
    require(
        c.status == Status.REJECTED,
        "not_rejected",
        f"Only a rejected complaint can be reinstated; this one is {c.status}.",
    )
    require(
        not c.redacted,
        "complaint_redacted",
        "Its text and the reporter's data were erased: nobody could handle it. Take the report again as a new "
        "complaint.",
    )
    require_text(reason, "reason")
    require_text(by, "by")
    if category is not None:
        ref.category(category)  # a known code, or DomainError
    require(
        category is not None or c.category is not None,
        "category_required",
        "The report names no category: choose the one it is about (dispatch routes by it).",
        field="category",
    )
    if district is not None:
        ref.district(district)
    outside = c.lat is not None and c.lon is not None and not ref.in_served_area(c.lat, c.lon)
    require(
        district is not None or not outside,
        "outside_served_area",
        "Its location is outside the served area: give the district it is in if the location was wrong, or "
        "hand it to the authority there.",
        field="district",
    )


def check_mark_duplicate(c: Complaint, of_complaint_id: UUID) -> None:
    check_not_ended(c)
    require(of_complaint_id != c.id, "duplicate_of_itself", "A complaint cannot duplicate itself.")
    require(
        c.status in BEFORE_DISPATCH,
        "already_dispatched",
        "A dispatched complaint is already being handled; link it to an incident instead.",
    )


def check_link_to_incident(c: Complaint, incident_id: UUID) -> None:
    check_not_ended(c)
    require(
        c.incident_id != incident_id,
        "already_linked_to_incident",
        "The complaint is already in this incident.",
    )
    require(
        c.incident_id is None,
        "linked_to_other_incident",
        "The complaint already belongs to another incident.",
    )


def check_move_to_incident(c: Complaint, incident_id: UUID, from_incident_id: UUID) -> None:
    """Only out of the incident it is in (the absorbed one of a merge); an ended case stays where it ended."""
    check_not_ended(c)
    require(
        c.incident_id == from_incident_id,
        "not_in_incident",
        f"The complaint is not in incident {from_incident_id}.",
    )
    require(
        incident_id != from_incident_id,
        "already_linked_to_incident",
        "The complaint is already in this incident.",
    )


def check_assess_priority(
    c: Complaint,
    score: int,
    level: str,
    factors: list[dict[str, Any]],
    accept_by: datetime,
    resolve_by: datetime,
) -> None:
    check_not_ended(c)
    require(
        c.status != Status.RECEIVED, "not_validated", "Validate the complaint before assessing its priority."
    )
    require(c.status not in AFTER_RESOLVE, "already_resolved", "A resolved complaint is not re-assessed.")
    require(
        isinstance(score, int) and not isinstance(score, bool) and 0 <= score <= 100,
        "score_out_of_range",
        "A priority score is a whole number from 0 to 100.",
        field="score",
    )
    require(level in LEVELS, "unknown_level", f"{level!r} is not one of {LEVELS}.", field="level")
    require(
        all(isinstance(f, dict) and set(f) == FACTOR_KEYS for f in factors),
        "invalid_factors",
        "Each factor must have exactly name, weight, value and evidence, so the score can be explained.",
        field="factors",
    )
    check_aware(accept_by, "accept_by")
    check_aware(resolve_by, "resolve_by")
    require(accept_by <= resolve_by, "deadlines_out_of_order", "accept_by must not be later than resolve_by.")


def check_dispatch(
    c: Complaint,
    ref: Reference,
    department: str,
    by: str,
    reason: str,
    *,
    by_hand: bool = False,
    overrule_return: bool = False,
) -> None:
    check_not_ended(c)
    ref.department(department)
    require_text(by, "by")
    require_text(reason, "reason")
    require(
        c.status not in AFTER_RESOLVE,
        "already_resolved",
        "Reopen a resolved complaint before dispatching it.",
    )
    # Triage goes first on a new complaint. A case already handled once (returned, or reopened after a first-
    # contact answer, which triage never assessed) may go on without it, and command staff may send any case by
    # hand: when triage is backlogged or down, the people in danger cannot wait for it.
    require(
        c.priority_level is not None or by_hand or c.status in (Status.RETURNED, Status.REOPENED),
        "not_prioritised",
        "Assess the priority before dispatching (or dispatch by hand as command staff).",
    )
    # A department's return settles it for the rules, not for command staff: they may send it back, saying so.
    require(
        department not in c.returned_by or (by_hand and overrule_return),
        "department_returned_it",
        f"{department} already returned this complaint as not theirs; choose another department"
        + (", or send it back to them anyway with overrule_return: true and the reason." if by_hand else "."),
        field="department",
    )
    require(
        not (c.department == department and c.status in (Status.DISPATCHED, *HANDLING)),
        "already_dispatched_to_department",
        f"The complaint is already with {department}.",
        field="department",
    )


def check_department_holds(c: Complaint, department: str) -> None:
    require(
        c.department == department,
        "not_dispatched_to_department",
        f"The complaint is with {c.department or 'no department'}, not {department}.",
        field="department",
    )


def check_accept(c: Complaint, department: str) -> None:
    check_not_ended(c)
    require(
        c.status == Status.DISPATCHED,
        "not_dispatched",
        f"Only a dispatched complaint can be accepted; it is {c.status}.",
    )
    check_department_holds(c, department)


def check_return(c: Complaint, department: str, reason: str) -> None:
    check_not_ended(c)
    # A reopened case is back with whoever resolved it; if that was the hotline office on the call, it may
    # well be another department's work now.
    require(
        c.status in (Status.DISPATCHED, Status.ACCEPTED, Status.REOPENED),
        "not_with_department",
        f"Only a dispatched, accepted or reopened complaint can be returned; it is {c.status}.",
    )
    check_department_holds(c, department)
    require_text(reason, "reason")


def check_handling(c: Complaint, department: str) -> None:
    check_not_ended(c)
    require(
        c.status in HANDLING,
        "not_accepted",
        f"The department must accept the complaint first; it is {c.status}.",
    )
    check_department_holds(c, department)


def check_request_extension(c: Complaint, department: str, minutes: int, reason: str) -> None:
    check_handling(c, department)
    require(
        c.extension_pending is None,
        "extension_pending",
        "An extension request is already waiting for a decision.",
    )
    check_minutes(minutes)
    require_text(reason, "reason")


def check_minutes(minutes: int) -> None:
    require(
        isinstance(minutes, int) and not isinstance(minutes, bool) and minutes > 0,
        "minutes_not_positive",
        "An extension is a positive number of minutes.",
        field="minutes",
    )


def check_extension_decision(c: Complaint, by: str) -> None:
    check_not_ended(c)
    require(
        c.extension_pending is not None,
        "no_extension_pending",
        "No extension request is waiting for a decision.",
    )
    require_text(by, "by")


def check_escalate(c: Complaint, level: int, reason: str, by: str, *, deadline_missed: bool = False) -> None:
    check_not_ended(c)
    require(
        level in (1, 2) and not isinstance(level, bool),
        "invalid_escalation_level",
        "Escalate to level 1 or 2.",
    )
    # Never down; a missed deadline is a fact worth recording even when the case is already at that level
    # (a P1 sent to command at once that then misses its accept-by).
    require(
        level > c.escalation_level or (deadline_missed and level == c.escalation_level),
        "already_escalated",
        f"The complaint is already escalated to level {c.escalation_level}.",
        field="level",
    )
    require_text(reason, "reason")
    require_text(by, "by")


def check_resolve(
    c: Complaint, ref: Reference, department: str, summary: str, outcome: str, answer_ref: str | None
) -> None:
    check_not_ended(c)
    require(outcome in OUTCOMES, "unknown_outcome", f"{outcome!r} is not one of {OUTCOMES}.", field="outcome")
    require(c.status not in AFTER_RESOLVE, "already_resolved", "The complaint is already resolved.")
    if outcome == "first_contact":
        # Settled on the call: only before anyone was sent, and only by pointing at published facts.
        require(
            c.status in BEFORE_DISPATCH,
            "first_contact_after_dispatch",
            "A complaint already sent to a department is resolved by that department.",
        )
        ref.department(department)
        require(
            answer_ref is not None and answer_ref.strip() != "",
            "answer_ref_required",
            "Say which notice or standard answer settled it on the call.",
            field="answer_ref",
        )
    else:
        check_handling(c, department)
    require_text(summary, "summary")


def check_after_resolve(c: Complaint) -> None:
    check_not_ended(c)
    require(
        c.status in AFTER_RESOLVE, "not_resolved", f"Only a resolved complaint can do this; it is {c.status}."
    )


def check_close(c: Complaint) -> None:
    """归档 comes after 回访: the caller was called back since the last resolution and was not left unsatisfied,
    or could not be reached, or left nothing to call back on (no phone or email, or it was erased). A case
    settled on the call (first contact) was settled with the caller, who was asked whether they agree."""
    check_after_resolve(c)
    # getattr: a snapshot taken before this rule has no such attribute (every follow-up then counts).
    since = c.follow_ups[getattr(c, "follow_ups_before_resolution", 0) :]
    reached = [f for f in since if f["contacted"]]
    require(
        all(f["satisfaction"] != "not_satisfied" for f in reached),
        "unsatisfied_follow_up",
        "A follow-up call found the caller not satisfied: reopen the complaint to its department. (A later call, "
        "whether it reached nobody or recorded a happier answer, does not change what the caller said.)",
    )
    # Not reached counts once a call was tried: "not contacted" recorded at once would skip the call.
    unreachable = c.follow_up_attempts > 0 and any(not f["contacted"] for f in since)
    require(
        bool(reached)
        or unreachable
        or c.contact_hash is None
        or c.redacted
        or (c.resolution is not None and c.resolution["outcome"] == "first_contact"),
        "follow_up_required",
        "Nobody has called the caller back since it was resolved: record the follow-up call first (reached; or "
        "the calls that reached nobody, then the follow-up as not contacted).",
    )


def check_follow_up(c: Complaint, contacted: bool, satisfaction: str | None) -> None:
    check_after_resolve(c)
    require(
        satisfaction is None or satisfaction in SATISFACTION,
        "unknown_satisfaction",
        f"{satisfaction!r} is not one of {SATISFACTION}.",
        field="satisfaction",
    )
    require(
        contacted or satisfaction is None,
        "satisfaction_without_contact",
        "Nobody was reached, so nobody said how satisfied they were.",
        field="satisfaction",
    )


def check_attempt_follow_up(c: Complaint, note: str) -> None:
    check_after_resolve(c)
    require(
        c.follow_up_attempts < MAX_FOLLOW_UP_ATTEMPTS,
        "follow_up_attempts_exhausted",
        f"Already tried {MAX_FOLLOW_UP_ATTEMPTS} times; record the follow-up as not contacted.",
    )
    require_text(note, "note")


# The furthest a time agreed with a caller may lie ahead, even with command's approval: a P4 has 5 days, an
# extension adds at most 14. A year's typo (2206) stored unbounded stopped the read models: year 10000 in UTC.
AGREED_AT_MOST = timedelta(days=90)


def check_agree_resolution_time(
    c: Complaint,
    agreed_at: datetime,
    now: datetime,
    approved_by_command: bool,
    *,
    due: datetime | None = None,
) -> None:
    check_not_ended(c)
    require(c.status not in AFTER_RESOLVE, "already_resolved", "The complaint is already resolved.")
    check_aware(agreed_at, "agreed_at")
    check_aware(now, "now")
    require(
        agreed_at > now,
        "agreed_time_in_past",
        "An agreed resolution time must be in the future.",
        field="agreed_at",
    )
    require(
        agreed_at <= now + AGREED_AT_MOST,
        "agreed_time_too_far",
        f"An agreed resolution time is at most {AGREED_AT_MOST.days} days ahead; check the year.",
        field="agreed_at",
    )
    due = due or c.resolve_by
    require(
        due is None or agreed_at <= due or approved_by_command,
        "beyond_resolve_by_needs_approval",
        "A time later than the level's resolve-by needs command staff's approval.",
        field="agreed_at",
    )


def check_emergency_transfer(c: Complaint, service: str, by: str, reason: str) -> None:
    check_not_ended(c)
    require(
        service in EMERGENCY_SERVICES,
        "unknown_emergency_service",
        f"{service!r} is not one of {EMERGENCY_SERVICES}.",
        field="service",
    )
    require_text(by, "by")
    require_text(reason, "reason")


def check_redact(c: Complaint, reason: str) -> None:
    require(not c.redacted, "already_redacted", "The personal data is already erased.")
    require_text(reason, "reason")


def check_assign_responsible(c: Complaint, person: str, by: str) -> str:
    """The name as recorded. Any open step, resolved included (a follow-up may still go wrong); never after
    the case has ended."""
    check_not_ended(c)
    name = person_name(person)
    # getattr: a snapshot taken before anyone could be named responsible has no such attribute.
    check_reassignment(getattr(c, "responsible", None), name, by)
    return name
