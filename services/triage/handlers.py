"""Triage's handlers: one per event type, dependencies keyword-only (bound in app.py).

ComplaintReceived: valid or not (有效/无效), a duplicate of the same reporter's earlier report, or a new
case: validated, grouped with other people's reports of the same event, and assessed. A growing group
re-assesses the complaints whose level it raises (bounded). ComplaintCallRepeated: re-assess that case.
IncidentAbsorbed (command or triage merged an incident into another): each open complaint still in the merged
one moves to the one that absorbed it, exactly once (the worker commits the moves with its tracking record).
Every decision uses the event's own timestamp and aggregates from the stream; deadlines use ``uow.now``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import structlog

from events.complaint import (
    Complaint,
    ComplaintCallRepeated,
    ComplaintReceived,
    ComplaintReinstated,
    ComplaintReopened,
)
from events.complaint_rules import AFTER_RESOLVE, Status
from events.incident import IncidentAbsorbed
from events.reference import LEVELS, Reference
from events.store.aggregates import AggregateNotFound
from services.runtime.unit_of_work import UnitOfWork
from services.triage import incidents
from services.triage.indexes import Cluster, ContactIndex, Member
from services.triage.rules import Rules
from services.triage.scoring import (
    Assessment,
    ComplaintFacts,
    Context,
    TextMemo,
    Verdict,
    judge,
    score,
    step_points,
)

log = structlog.get_logger(__name__)
BY = "triage"


@dataclass(frozen=True)
class Deps:
    rules: Rules
    reference: Reference
    memo: TextMemo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "memo", TextMemo(self.rules, self.reference))


def facts_of(complaint: Complaint) -> ComplaintFacts:
    """As intake recorded them: the reporter's category, not the one triage settled on, so that a category
    triage read from the text keeps its evidence ("given at intake" is only said of a reporter's)."""
    reported = getattr(
        complaint, "reported_category", complaint.category
    )  # a snapshot from before it: as was
    return ComplaintFacts(
        description=complaint.description, category=reported, channel=complaint.channel,
        lat=complaint.lat, lon=complaint.lon, district=complaint.district,
        people_affected=complaint.people_affected, vulnerable=tuple(complaint.vulnerable),
        media_exposure=complaint.media_exposure,
    )  # fmt: skip


async def on_complaint_received(event: ComplaintReceived, uow: UnitOfWork, *, deps: Deps) -> None:
    complaint = await uow.get(event.originator_id, Complaint)
    if complaint.status != Status.RECEIVED:
        # Staff decided its validity already; it may still lack a level (dispatched by hand ahead of triage).
        await _assess_late(complaint, event.timestamp, uow, deps, place=True)
        return
    verdict = _judge(complaint, deps)
    if not verdict.valid:
        complaint.reject(verdict.reason or "invalid", by=BY)
        log.info("complaint_rejected", complaint_id=str(complaint.id), position=uow.position,
                 reason=verdict.reason)  # fmt: skip
        return
    category = verdict.assessment.category
    if await _is_duplicate(complaint, category, event.timestamp, uow, deps):
        log.info("complaint_marked_duplicate", complaint_id=str(complaint.id), position=uow.position,
                 of=str(complaint.duplicate_of))  # fmt: skip
        return
    complaint.validate(by=BY, category=category, reference=deps.reference)  # dispatch routes by it
    placed = await incidents.place(complaint, category, event.timestamp, uow, deps.rules, deps.reference)
    assessment = _assess(complaint, placed.size, uow.now, deps)
    complaint.assess_priority(**_deadline_args(assessment, complaint, uow.now, deps.reference))
    # Every complaint's verdict is in the stream (PriorityAssessed, with its factors) and on the board: the
    # line is for debugging only. At info, a surge's 500 lines a second cost triage 4% of its CPU.
    log.debug("priority_assessed", complaint_id=str(complaint.id), position=uow.position, level=assessment.level,
              score=assessment.score, category=category, cluster=placed.size,
              incident_id=str(placed.incident_id) if placed.incident_id else None)  # fmt: skip
    if placed.size > 1 and _cluster_points(placed.size, deps) != _cluster_points(placed.size - 1, deps):
        await _reassess_group(placed, uow, deps)


async def on_complaint_reopened(event: ComplaintReopened, uow: UnitOfWork, *, deps: Deps) -> None:
    await _assess_late(await uow.get(event.originator_id, Complaint), event.timestamp, uow, deps, place=False)


async def on_complaint_reinstated(event: ComplaintReinstated, uow: UnitOfWork, *, deps: Deps) -> None:
    """Command overruled triage's rejection: the complaint is valid, by their decision, with the category they
    gave or the reporter's. As a new report from then on: the same reporter's case about the same event still
    being handled (a clear repeat triage took while this lay rejected) takes it as a repeated call; else it joins
    the reporter's index (later repeats join it), is put with other people's reports of the event as they are
    now (not in a group of its receipt's time, whose incident may be over), and assessed with the time it already
    waited. Dispatch routes it on the assessment."""
    complaint = await uow.get(event.originator_id, Complaint)
    if complaint.priority_level is not None or not complaint.is_open:
        return  # assessed already (a redone batch), or ended since
    category = complaint.category or _assess(complaint, 1, uow.now, deps).category
    if complaint.status == Status.VALIDATED:
        if await _is_duplicate(complaint, category, complaint.created_on, uow, deps, reopen=False):
            log.info("complaint_marked_duplicate", complaint_id=str(complaint.id), position=uow.position,
                     of=str(complaint.duplicate_of), reinstated=True)  # fmt: skip
            return
    elif complaint.status in LATE_ASSESSABLE:
        # Command sent it on by hand before triage came to it: too late to be a duplicate, but the reporter's
        # later repeats join it, and it still needs a level, so deadlines (found by a review).
        await _record_report(complaint, category, incidents.entry_for(complaint, complaint.created_on), uow)
    else:
        return
    if complaint.incident_id is None:
        placed = await incidents.place(complaint, category, event.timestamp, uow, deps.rules, deps.reference)
    else:
        placed = incidents.Placement(1, complaint.incident_id)  # command put it in one by hand
    first = _assess(complaint, placed.size, uow.now, deps)
    assessment = _assess(complaint, placed.size, uow.now, deps, waited_against=first.level)
    complaint.assess_priority(**_deadline_args(assessment, complaint, uow.now, deps.reference))
    log.info("priority_assessed_reinstated", complaint_id=str(complaint.id), position=uow.position,
             level=assessment.level, by=event.by)  # fmt: skip
    if placed.size > 1 and _cluster_points(placed.size, deps) != _cluster_points(placed.size - 1, deps):
        await _reassess_group(placed, uow, deps)


# Open cases triage never assessed: command dispatched them by hand ahead of it (nobody in danger waits for a
# backlogged triage), or a first-contact answer was reopened. Without a level they would have no deadline, so
# nothing would ever escalate them, and a major one would never go up to command.
LATE_ASSESSABLE = frozenset({Status.DISPATCHED, Status.ACCEPTED, Status.RETURNED, Status.REOPENED})


async def _assess_late(
    complaint: Complaint, received_at: datetime, uow: UnitOfWork, deps: Deps, *, place: bool
) -> None:
    """Score a case staff moved on without an assessment, and put it in its incident if it has none; its
    validity and duplicates are not judged again: staff acted on it."""
    if (
        complaint.priority_level is not None
        or complaint.status not in LATE_ASSESSABLE
        or not complaint.is_open
    ):
        return
    size = 1
    if place and complaint.incident_id is None:
        category = complaint.category or _assess(complaint, 1, uow.now, deps).category
        size = (await incidents.place(complaint, category, received_at, uow, deps.rules, deps.reference)).size
    assessment = _assess(complaint, size, uow.now, deps)
    complaint.assess_priority(**_deadline_args(assessment, complaint, uow.now, deps.reference))
    log.info("priority_assessed_late", complaint_id=str(complaint.id), status=str(complaint.status),
             level=assessment.level, position=uow.position)  # fmt: skip


async def on_incident_absorbed(event: IncidentAbsorbed, uow: UnitOfWork, *, deps: Deps) -> None:
    """Move the merged incident's complaints (this part of them: at most ABSORB_PART, one event each). One
    already moved (a redone batch), ended, or moved elsewhere by staff is left as it is."""
    await uow.prefetch(set(event.complaint_ids))  # one concurrent round of reads
    moved = 0
    for complaint_id in event.complaint_ids:
        try:
            complaint = await uow.get(complaint_id, Complaint)
        except AggregateNotFound:
            continue
        if complaint.incident_id == event.source_id and complaint.is_open:
            complaint.move_to_incident(event.originator_id, event.source_id)
            moved += 1
    log.info("incident_complaints_moved", incident_id=str(event.originator_id), source_id=str(event.source_id),
             moved=moved, listed=len(event.complaint_ids), position=uow.position)  # fmt: skip


def _judge(complaint: Complaint, deps: Deps) -> Verdict:
    return judge(facts_of(complaint), Context(repeated_calls=complaint.repeat_calls), memo=deps.memo)


async def plan(complaint_ids: Sequence[UUID], uow: UnitOfWork, *, deps: Deps) -> None:
    """Before a batch: fetch together the contact indexes and clusters its new complaints will look up.

    Without it each new complaint costs sequential round trips (most often to hear that a caller has no
    index yet). Only a shortcut: the handlers look everything up again through the unit of work.
    """
    indexes: set[UUID] = set()
    clusters: set[UUID] = set()
    c = deps.rules.clustering
    for complaint_id in complaint_ids:
        complaint = uow.peek(complaint_id)
        if not isinstance(complaint, Complaint) or complaint.status != Status.RECEIVED:
            continue
        verdict = _judge(complaint, deps)
        if not verdict.valid:
            continue
        category = verdict.assessment.category
        if complaint.contact_hash:
            indexes.add(ContactIndex.index_id(complaint.contact_hash, category))
        if complaint.district is not None and deps.reference.category(category).group in c.groups:
            bucket = int(complaint.created_on.timestamp() // (c.bucket_minutes * 60))
            clusters.update(Cluster.cluster_id(complaint.district, category, b) for b in (bucket, bucket - 1))
    await uow.prefetch(indexes, cls=ContactIndex)
    await uow.prefetch(clusters, cls=Cluster)


async def on_complaint_call_repeated(event: ComplaintCallRepeated, uow: UnitOfWork, *, deps: Deps) -> None:
    complaint = await uow.get(event.originator_id, Complaint)
    if complaint.priority_level is not None:
        await _reassess(complaint, _cluster_size_of(complaint), uow, deps)


# ---- duplicates ----------------------------------------------------------------------------------------


async def _is_duplicate(
    complaint: Complaint, category: str, at: datetime, uow: UnitOfWork, deps: Deps, *, reopen: bool = True
) -> bool:
    """Same reporter, same category, close in place and time: a duplicate of the first such report still being
    handled, else of the first resolved one, reopened (重启: the problem was not settled); else a complaint of
    its own (the first report ended, or none). A contact the public typed (the public form, Open311 with a
    published key) may be someone else's number: it never reopens a resolved case, whose owner could otherwise
    have it reopened, and at the second time sent to command, by whoever knew the number, and learn from their
    own report's public status ("merged") that this number had reported it (found by a security review); such a
    repeat of a resolved case is a complaint of its own, and the next repeat a duplicate of that one.
    ``reopen``: False for a report older than the cases it is compared with (a rejection command overruled):
    a case resolved since it was made is not reopened by it."""
    if not complaint.contact_hash:
        return False
    entry = incidents.entry_for(complaint, at)
    index = await _reporters_index(complaint.contact_hash, category, entry, uow)
    if index is None:
        return False  # a first report: no original
    rules = deps.rules.duplicates
    window = timedelta(minutes=rules.window_minutes)
    km = deps.rules.duplicate_km(category)
    originals = [await uow.get(i, Complaint) for i in index.earlier_reports(entry, window, km)]
    handled = next((o for o in originals if o.is_open and o.status not in AFTER_RESOLVE), None)
    if handled is None and reopen and not complaint.contact_typed_by_the_public:
        handled = next((o for o in originals if o.is_open), None)  # resolved: reopened below
        if handled is not None:
            # Resolved, and the same person reports the same problem again: it was not settled (重启).
            handled.reopen_and_escalate_repeats(
                f"new report of the same problem: {complaint.tracking_code}", by="triage"
            )
    if handled is None:
        index.record(entry)
        return False
    complaint.mark_duplicate(handled.id)
    # The same person again about an open case is a repeated call: it counts for its priority.
    handled.repeat_call(f"duplicate report {complaint.tracking_code}", complaint.channel)
    return True


async def _reporters_index(
    contact_hash: str, category: str, entry: Member, uow: UnitOfWork
) -> ContactIndex | None:
    """The reporter's index of reports in `category`; None when it had none: it is started with `entry`."""
    try:
        return await uow.get(ContactIndex.index_id(contact_hash, category), ContactIndex)
    except AggregateNotFound:
        uow.add(ContactIndex.start(contact_hash, category, entry))
        return None


async def _record_report(complaint: Complaint, category: str, entry: Member, uow: UnitOfWork) -> None:
    """In the reporter's index, without judging it a duplicate: the reporter's later repeats join it."""
    if complaint.contact_hash:
        index = await _reporters_index(complaint.contact_hash, category, entry, uow)
        if index is not None:
            index.record(entry)


# ---- assessment ----------------------------------------------------------------------------------------


def _assess(
    complaint: Complaint, cluster_size: int, now: datetime, deps: Deps, *, waited_against: str | None = None
) -> Assessment:
    """``waited_against``: the level whose accept time the wait since receipt counts against, for a complaint not
    assessed yet (a rejection overruled: it waited all along); else the complaint's own level, if any."""
    level = waited_against or complaint.priority_level
    accept_within = deps.reference.deadlines(level).accept_within_minutes if level else None
    waited = (now - complaint.created_on).total_seconds() / 60 if level else 0.0
    context = Context(cluster_size=cluster_size, repeated_calls=complaint.repeat_calls,
                      minutes_waited=max(waited, 0.0), accept_within_minutes=accept_within)  # fmt: skip
    facts = facts_of(complaint)
    assessment = score(facts, context, memo=deps.memo)
    if complaint.category and assessment.category != complaint.category:
        # Command set it when they overruled a rejection, or the rules changed since the case was validated: score
        # the category it was validated and routed with.
        # (getattr: a snapshot from before reinstatements was never reinstated)
        by = "command" if getattr(complaint, "reinstated_by", None) else "triage"
        settled = replace(facts, category=complaint.category, category_from=by)
        assessment = score(settled, context, memo=deps.memo)
    return assessment


def _deadline_args(
    assessment: Assessment, complaint: Complaint, now: datetime, reference: Reference
) -> dict[str, Any]:
    deadlines = reference.deadlines(assessment.level)
    accept_by, resolve_by = now + deadlines.accept_within, now + deadlines.resolve_within
    # A raised level never gives the department more time than it already had.
    if complaint.accept_by is not None and complaint.resolve_by is not None:
        accept_by, resolve_by = min(accept_by, complaint.accept_by), min(resolve_by, complaint.resolve_by)
    return {"score": assessment.score, "level": assessment.level, "factors": assessment.factors,
            "accept_by": min(accept_by, resolve_by), "resolve_by": resolve_by}  # fmt: skip


REASSESSABLE = frozenset({Status.VALIDATED, Status.PRIORITISED, Status.DISPATCHED, Status.ACCEPTED,
                          Status.RETURNED, Status.REOPENED})  # fmt: skip


async def _reassess(complaint: Complaint, cluster_size: int, uow: UnitOfWork, deps: Deps) -> None:
    """Re-score; record it only when the level rises (levels never fall on their own)."""
    if complaint.status not in REASSESSABLE or complaint.priority_level is None:
        return
    assessment = _assess(complaint, cluster_size, uow.now, deps)
    if LEVELS.index(assessment.level) >= LEVELS.index(complaint.priority_level):
        return
    before = complaint.priority_level
    complaint.assess_priority(**_deadline_args(assessment, complaint, uow.now, deps.reference))
    log.info("priority_raised", complaint_id=str(complaint.id), before=before, after=assessment.level,
             position=uow.position)  # fmt: skip


async def _reassess_group(placed: incidents.Placement, uow: UnitOfWork, deps: Deps) -> None:
    members = placed.members[-deps.rules.clustering.max_rescore :]
    await uow.prefetch(set(members))  # one concurrent round of reads, not one round trip per member
    for complaint_id in members:
        await _reassess(await uow.get(complaint_id, Complaint), placed.size, uow, deps)


def _cluster_points(size: int, deps: Deps) -> int:
    return step_points(deps.rules.cluster_steps, size)


def _cluster_size_of(complaint: Complaint) -> int:
    for f in complaint.priority_factors:
        if f.get("name") == "cluster":
            return int(f.get("value") or 1)
    return 1
