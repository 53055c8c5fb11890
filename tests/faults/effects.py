"""Every effect a worker writes, counted against its cause: each must be there once, never twice.

The rules are the workers' own idempotency keys, read back from the stream:
- triage (services/triage): one decision per complaint (validated, rejected or marked duplicate); levels
  only rise; one repeated call on the original per duplicate (its note names the duplicate's tracking
  code); one contact-index entry per validated complaint with a contact, one cluster entry per complaint
  at most; one incident per cluster group it declares; one link per complaint on each side, both agreeing.
- dispatch (services/dispatch): one routing per occasion (the first assessment, then each return); its
  immediate escalations only ever rise, and a major complaint (P1, media, mass impact: judged on its first
  assessment) is escalated; the deadline watcher records each missed deadline once (its reason names it).
- notices (services/notices): a summary draft's id is derived from (incident, occasion), so every draft
  must be one of its incident's occasions (a linked count the policy drafts at, or a period), and every
  linked-count occasion an incident reached has its draft; a newer draft withdraws the older ones still
  waiting, so an incident has at most one live automatic draft, and a draft is superseded at most once.
- merges (command's through the API, triage's when a report joins groups): the merged incident's complaints
  are listed once, complete, on the target (IncidentAbsorbed); triage moves each one (ComplaintMovedToIncident)
  at most once per merge, only one the merge listed and only out of the incident it is in, and none open is
  left in a merged incident.
- department bulk actions (services/api/commands_bulk.py): a case is accepted at most once per dispatch, and
  each case a bulk accept answered for has exactly one DispatchAccepted of that department.
- re-drives (services/runtime/redrive.py): each retry request gets exactly one outcome (a `retried` record
  or a new dead letter naming it), and a dead-lettered event is re-driven successfully at most once; what
  the retried event does is then counted by the worker's own rules above, like any event.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from typing import Any
from uuid import UUID

from events.complaint import (
    ComplaintCallRepeated,
    ComplaintClosed,
    ComplaintDispatched,
    ComplaintEscalated,
    ComplaintLinkedToIncident,
    ComplaintMarkedDuplicate,
    ComplaintMovedToIncident,
    ComplaintReinstated,
    ComplaintRejected,
    ComplaintValidated,
    DispatchAccepted,
    DispatchReturned,
    PriorityAssessed,
)
from events.deadlines import WATCHER, fold_all
from events.incident import ComplaintAddedToIncident, IncidentAbsorbed, IncidentDeclared, IncidentMerged
from events.mapper import reconstruct
from events.notice import Notice, NoticeCancelled, NoticeDrafted
from events.reference import LEVELS, Reference
from services.dispatch.rules import RoutingTable, immediate_escalation, people_affected
from services.dispatch.timeline import escalations_due
from services.notices.summary import DRAFTED_BY, SummaryPolicy, summary_notice_id
from services.notices.superseding import waiting_summary
from services.runtime import redrive
from services.triage.indexes import (
    ClusterGroupsJoined,
    ClusterGroupStarted,
    ClusterIncidentSet,
    ClusterMemberAdded,
    ClusterOpened,
    ContactIndexOpened,
    ContactIndexStarted,
    ContactReportRecorded,
)

DECISIONS = (ComplaintValidated, ComplaintRejected, ComplaintMarkedDuplicate)
ENDINGS = (ComplaintRejected, ComplaintMarkedDuplicate, ComplaintClosed)  # events.complaint_rules.ENDED
Histories = dict[UUID, list[Any]]  # aggregate id -> its decoded events, oldest first


@dataclass
class Effects:
    counts: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def twice(self, what: str, n: int, cause: object) -> None:
        """`n` effects of one cause where at most one may be."""
        if n > 1:
            self.mismatches.append(f"{what} {n} times for {cause}")


def of_kind(events: Iterable[Any], *kinds: type) -> list[Any]:
    return [e for e in events if isinstance(e, kinds)]


def triage_decided(events: list[Any]) -> list[Any]:
    """Triage's own decisions: those before command overruled a rejection (ComplaintReinstated)."""
    reinstated = next((i for i, e in enumerate(events) if isinstance(e, ComplaintReinstated)), len(events))
    return of_kind(events[:reinstated], *DECISIONS)


def taken(events: list[Any]) -> bool:
    """Validated by triage, or reinstated by command and not then found a repeat of a case being handled."""
    if of_kind(events, ComplaintValidated):
        return True
    after = [e for e in events if isinstance(e, ComplaintReinstated | ComplaintMarkedDuplicate)]
    return bool(after) and isinstance(after[-1], ComplaintReinstated)


def has_ended(events: list[Any]) -> bool:
    """Ended now: its last ending not overruled since (a rejection command reinstated is not)."""
    last = of_kind(events, *ENDINGS, ComplaintReinstated)
    return bool(last) and not isinstance(last[-1], ComplaintReinstated)


def split(histories: Histories) -> dict[type, Histories]:
    """Aggregates by the type of their first event (ComplaintReceived, IncidentDeclared, ...)."""
    kinds: dict[type, Histories] = defaultdict(dict)
    for aggregate_id, events in histories.items():
        kinds[type(events[0])][aggregate_id] = events
    return kinds


# ---- triage -----------------------------------------------------------------------------------------


def triage(complaints: Histories, aggregates: dict[type, Histories], out: Effects) -> None:
    for complaint_id, events in complaints.items():
        decided = triage_decided(events)
        if len(decided) != 1:
            out.mismatches.append(
                f"{complaint_id}: decided {len(decided)} times {[type(e).__name__ for e in decided]}"
            )
        for decision in decided:
            out.counts[type(decision).__name__] += 1
        _assessments(complaint_id, events, out)
    _duplicates(complaints, out)
    _contact_entries(complaints, aggregates, out)
    _cluster_entries(complaints, aggregates, out)
    _incident_links(complaints, aggregates.get(IncidentDeclared, {}), out)


def _assessments(complaint_id: UUID, events: list[Any], out: Effects) -> None:
    """Assessed only once validated; a re-assessment is recorded only when the level rises."""
    assessed = of_kind(events, PriorityAssessed)
    validated = taken(events)
    if validated != bool(assessed):
        out.mismatches.append(f"{complaint_id}: validated {validated}, assessed {len(assessed)} times")
    out.counts["PriorityAssessed (first)"] += bool(assessed)
    out.counts["PriorityAssessed (level raised)"] += max(len(assessed) - 1, 0)
    levels = [LEVELS.index(e.level) for e in assessed]
    if any(later >= earlier for earlier, later in pairwise(levels)):
        out.mismatches.append(f"{complaint_id}: re-assessed without a rise {[e.level for e in assessed]}")


def _duplicates(complaints: Histories, out: Effects) -> None:
    """Each duplicate adds exactly one repeated call to its original, noted with its tracking code."""
    expected: Counter[tuple[UUID, str]] = Counter()
    for events in complaints.values():
        for marked in of_kind(events, ComplaintMarkedDuplicate):
            expected[(marked.of_complaint_id, f"duplicate report {events[0].tracking_code}")] += 1
    recorded: Counter[tuple[UUID, str]] = Counter(
        (complaint_id, e.note)
        for complaint_id, events in complaints.items()
        for e in of_kind(events, ComplaintCallRepeated)
        if e.note.startswith("duplicate report ")
    )
    out.counts["ComplaintCallRepeated (from a duplicate)"] += recorded.total()
    for key in expected.keys() | recorded.keys():
        if expected[key] != 1 or recorded[key] != 1:
            out.mismatches.append(
                f"{key[0]}: {key[1]!r} marked {expected[key]}, call recorded {recorded[key]}"
            )


def _contact_entries(complaints: Histories, aggregates: dict[type, Histories], out: Effects) -> None:
    """The contact index remembers each validated complaint with a contact once, and nothing else."""
    entries: Counter[str] = Counter()
    indexes = {**aggregates.get(ContactIndexStarted, {}), **aggregates.get(ContactIndexOpened, {})}
    for events in indexes.values():
        for e in events:
            if isinstance(e, ContactIndexStarted):
                entries[e.first["complaint_id"]] += 1
            elif isinstance(e, ContactReportRecorded):
                entries[e.entry["complaint_id"]] += 1
    out.counts["contact index entries"] += entries.total()
    for complaint_id, events in complaints.items():
        wanted = int(bool(events[0].contact_hash and taken(events)))
        if entries.pop(str(complaint_id), 0) != wanted:
            out.mismatches.append(f"{complaint_id}: contact index entries, wanted {wanted}")
    if entries:
        out.mismatches.append(f"contact index entries for no complaint: {sorted(entries)[:3]}")


def _cluster_entries(complaints: Histories, aggregates: dict[type, Histories], out: Effects) -> None:
    """A complaint is placed in one group once (a group carried into the next bucket copies, not places, and
    groups joined move, not place); a group gets each incident once (a second only after a merge: the one the
    first was merged into), and every incident triage declared is some group's."""
    placed: Counter[str] = Counter()
    incidents_set: Counter[tuple[UUID, int, str]] = Counter()
    group_incidents: set[str] = set()
    for cluster_id, events in aggregates.get(ClusterOpened, {}).items():
        group = -1
        for e in events:
            if isinstance(e, ClusterGroupStarted):
                group += 1
                placed[e.members[-1]["complaint_id"]] += 1  # the rest are carried copies
            elif isinstance(e, ClusterMemberAdded):
                placed[e.entry["complaint_id"]] += 1
            elif isinstance(e, ClusterIncidentSet):
                incidents_set[(cluster_id, e.group, e.incident_id)] += 1
                group_incidents.add(e.incident_id)
            elif isinstance(e, ClusterGroupsJoined) and e.incident_id is not None:
                group_incidents.add(e.incident_id)
    out.counts["cluster placements"] += placed.total()
    out.counts["incidents set on a cluster group"] += incidents_set.total()
    for complaint_id, n in placed.items():
        out.twice("placed in a cluster", n, complaint_id)
        if UUID(complaint_id) in complaints and not taken(complaints[UUID(complaint_id)]):
            out.mismatches.append(f"{complaint_id}: placed in a cluster, never validated")
    for key, n in incidents_set.items():
        out.twice("incident set on cluster group", n, key)
    for incident_id, events in aggregates.get(IncidentDeclared, {}).items():
        if events[0].declared_by == "triage" and str(incident_id) not in group_incidents:
            out.mismatches.append(f"incident {incident_id}: declared by triage for no cluster group")


def _incident_links(complaints: Histories, incidents: Histories, out: Effects) -> None:
    """One link per complaint on the complaint's side, one per (incident, complaint) on the incident's;
    the two sides name the same pairs."""
    on_complaints: Counter[tuple[UUID, UUID]] = Counter()
    for complaint_id, events in complaints.items():
        links = of_kind(events, ComplaintLinkedToIncident)
        out.twice("linked to an incident", len(links), complaint_id)
        on_complaints.update((e.incident_id, complaint_id) for e in links)
    on_incidents: Counter[tuple[UUID, UUID]] = Counter(
        (incident_id, e.complaint_id)
        for incident_id, events in incidents.items()
        for e in of_kind(events, ComplaintAddedToIncident)
    )
    out.counts["ComplaintLinkedToIncident"] += on_complaints.total()
    out.counts["ComplaintAddedToIncident"] += on_incidents.total()
    out.counts["IncidentDeclared (by triage)"] += sum(
        e[0].declared_by == "triage" for e in incidents.values()
    )
    for pair, n in on_incidents.items():
        out.twice("added to the incident", n, pair)
    for pair in on_complaints.keys() ^ on_incidents.keys():
        side = "complaint" if pair in on_complaints else "incident"
        out.mismatches.append(f"incident {pair[0]} / complaint {pair[1]}: linked on the {side}'s side only")


# ---- dispatch ---------------------------------------------------------------------------------------


def dispatch(
    complaints: Histories,
    routing: RoutingTable,
    reference: Reference,
    out: Effects,
    *,
    watched_at: datetime | None,
) -> None:
    for complaint_id, events in complaints.items():
        _routing_occasions(complaint_id, events, out)
        _immediate_escalation(complaint_id, events, routing, out)
        _deadline_escalations(complaint_id, events, reference, out, watched_at)


def _routing_occasions(complaint_id: UUID, events: Sequence[Any], out: Effects) -> None:
    """Dispatch routes once when first assessed and once after each return; never in between."""
    waiting, ever = False, False
    for e in events:
        if isinstance(e, PriorityAssessed) and not ever:
            waiting = True
        elif isinstance(e, DispatchReturned):
            waiting = True
            out.counts["DispatchReturned"] += 1
        elif isinstance(e, ComplaintDispatched):
            if e.by == "dispatch" and not waiting:
                out.mismatches.append(f"{complaint_id}: routed again with no new occasion ({e.reason})")
            out.counts[
                "ComplaintDispatched (first)" if not ever else "ComplaintDispatched (after a return)"
            ] += 1
            waiting, ever = False, True
    if waiting:
        out.mismatches.append(f"{complaint_id}: waits for a dispatch that never came")


def _immediate_escalation(
    complaint_id: UUID, events: Sequence[Any], routing: RoutingTable, out: Effects
) -> None:
    """Dispatch's own escalations only rise; a complaint major on its first assessment was escalated."""
    mine = [e.level for e in of_kind(events, ComplaintEscalated) if e.by == "dispatch"]
    out.counts["ComplaintEscalated (immediate, by dispatch)"] += len(mine)
    if any(later <= earlier for earlier, later in pairwise(mine)):
        out.mismatches.append(f"{complaint_id}: immediate escalations {mine} do not rise")
    assessed = of_kind(events, PriorityAssessed)
    if not assessed:
        return
    received, first = events[0], assessed[0]
    people = people_affected(received.people_affected, first.factors)
    due = immediate_escalation(routing, level=first.level, media_exposure=received.media_exposure,
                               people_affected=people)  # fmt: skip
    reached = max((e.level for e in of_kind(events, ComplaintEscalated)), default=0)
    if due is not None and reached < due.level:
        out.mismatches.append(f"{complaint_id}: major ({due.reason}) but escalated only to {reached}")


def _deadline_escalations(
    complaint_id: UUID, events: Sequence[Any], reference: Reference, out: Effects, watched_at: datetime | None
) -> None:
    """One record per missed deadline (the reason names it); none missing as of a moment the watcher saw."""
    reasons = Counter(e.reason for e in of_kind(events, ComplaintEscalated) if e.by == WATCHER)
    out.counts["ComplaintEscalated (missed deadline, by the watcher)"] += reasons.total()
    for reason, n in reasons.items():
        out.twice(reason, n, complaint_id)
    if watched_at is not None and (due := deadlines_unrecorded(complaint_id, events, reference, watched_at)):
        out.mismatches.append(f"{complaint_id}: missed deadlines never recorded: {due}")


def deadlines_unrecorded(
    complaint_id: UUID, events: Sequence[Any], reference: Reference, at: datetime
) -> list[str]:
    """The deadlines missed by `at` that no watcher escalation records, by the watcher's own rule."""
    return [e.reason for e in escalations_due(fold_all(complaint_id, events, reference), at)]


# ---- notices ----------------------------------------------------------------------------------------


def notices(
    incidents: Histories,
    notice_histories: Histories,
    policy: SummaryPolicy,
    periods: Iterable[str],
    out: Effects,
) -> None:
    drafted = {
        notice_id: events[0]
        for notice_id, events in notice_histories.items()
        if isinstance(events[0], NoticeDrafted) and events[0].drafted_by == DRAFTED_BY
    }
    out.counts["NoticeDrafted (summary, by notices)"] += len(drafted)
    expected: dict[UUID, tuple[UUID, str]] = {}
    for incident_id, events in incidents.items():
        for count in _draft_counts(events, policy):
            occasion = f"complaints-{count}"
            expected[summary_notice_id(incident_id, occasion)] = (incident_id, occasion)
    for notice_id, (incident_id, occasion) in expected.items():
        if notice_id not in drafted:
            out.mismatches.append(f"incident {incident_id}: no summary drafted at {occasion}")
        elif drafted[notice_id].incident_id != incident_id:
            out.mismatches.append(
                f"summary {notice_id} for {occasion} names {drafted[notice_id].incident_id}"
            )
    out.counts["NoticeDrafted (at a linked count)"] += len(expected.keys() & drafted.keys())
    slots = {summary_notice_id(n.incident_id, period) for n in drafted.values() if n.incident_id
             for period in periods}  # fmt: skip
    out.counts["NoticeDrafted (per period)"] += len((drafted.keys() - expected.keys()) & slots)
    for notice_id in drafted.keys() - expected.keys() - slots:
        out.mismatches.append(
            f"summary {notice_id} of incident {drafted[notice_id].incident_id}: no known occasion"
        )


def _draft_counts(events: Sequence[Any], policy: SummaryPolicy) -> list[int]:
    """The linked counts an incident's summaries are drafted at: each link's count the policy drafts at, and for
    a merge's IncidentAbsorbed (many at once) the highest such count it passed."""
    counts, linked = [], 0
    for e in events:
        if isinstance(e, ComplaintAddedToIncident):
            linked += 1
            if policy.drafts_at(linked):
                counts.append(linked)
        elif isinstance(e, IncidentAbsorbed):
            passed = [n for n in range(linked + 1, linked + len(e.complaint_ids) + 1) if policy.drafts_at(n)]
            linked += len(e.complaint_ids)
            counts += passed[-1:]
    return counts


def live_summaries(notice_histories: Histories, out: Effects) -> None:
    """A newer automatic draft withdraws the incident's older ones still waiting (services/notices/superseding.py):
    at most one live automatic draft per incident; a draft superseded once, by a draft of its own incident."""
    drafts = {
        notice_id: reconstruct(events, Notice)
        for notice_id, events in notice_histories.items()
        if isinstance(events[0], NoticeDrafted) and events[0].drafted_by == DRAFTED_BY
    }
    live: Counter[UUID] = Counter()
    for notice_id, notice in drafts.items():
        if notice.incident_id is not None and waiting_summary(notice):
            live[notice.incident_id] += 1
        superseded = [e for e in of_kind(notice_histories[notice_id], NoticeCancelled) if e.superseded_by]
        out.counts["NoticeCancelled (superseded by a newer draft)"] += len(superseded)
        out.twice("superseded", len(superseded), notice_id)
        for e in superseded:
            newer = drafts.get(e.superseded_by)
            if newer is None or newer.incident_id != notice.incident_id:
                out.mismatches.append(
                    f"summary {notice_id}: superseded by {e.superseded_by}, no draft of its incident"
                )
    out.counts["live automatic summary drafts"] += live.total()
    for incident_id, n in live.items():
        if n > 1:
            out.mismatches.append(f"incident {incident_id}: {n} live automatic summary drafts")


# ---- merges -----------------------------------------------------------------------------------------


def merges(complaints: Histories, incidents: Histories, out: Effects) -> None:
    merged: dict[UUID, IncidentMerged] = {}
    for incident_id, events in incidents.items():
        if ended := of_kind(events, IncidentMerged):
            out.twice("merged", len(ended), incident_id)
            merged[incident_id] = ended[0]
    listed = _absorbed_lists(incidents, merged, out)
    moves: Counter[tuple[UUID, UUID, UUID]] = Counter()  # (complaint, from, to): one merge's move of it
    for complaint_id, events in complaints.items():
        current = _moves(complaint_id, events, moves, out)
        if current not in merged:
            continue
        if has_ended(events):
            out.counts["complaints left in a merged incident (ended)"] += 1
        else:
            out.mismatches.append(
                f"{complaint_id}: open, left in incident {current} merged into {merged[current].into}"
            )
    out.counts["ComplaintMovedToIncident"] += moves.total()
    for (complaint_id, source, target), n in moves.items():
        out.twice(f"moved from {source} to {target}", n, complaint_id)
        if complaint_id not in listed.get((source, target), set()):
            out.mismatches.append(f"{complaint_id}: moved from {source} to {target}, no merge listed it")


def _absorbed_lists(
    incidents: Histories, merged: Mapping[UUID, IncidentMerged], out: Effects
) -> dict[tuple[UUID, UUID], set[UUID]]:
    """(source, target) -> the complaint ids the target's IncidentAbsorbed parts list: each once, and together
    every complaint the source had when it ended, but those the target had already."""
    listed: dict[tuple[UUID, UUID], list[UUID]] = defaultdict(list)
    had: dict[tuple[UUID, UUID], set[UUID]] = {}
    for target, events in incidents.items():
        known: set[UUID] = set()
        for e in events:
            if isinstance(e, ComplaintAddedToIncident):
                known.add(e.complaint_id)
            elif isinstance(e, IncidentAbsorbed):
                had.setdefault((e.source_id, target), set(known))
                listed[(e.source_id, target)] += e.complaint_ids
                known.update(e.complaint_ids)
    for source, event in merged.items():
        key = (source, event.into)
        out.counts[f"IncidentMerged (by {'triage' if event.by == 'triage' else 'staff'})"] += 1
        ids = listed.get(key)
        if ids is None:
            out.mismatches.append(
                f"incident {source}: merged into {event.into}, which absorbed nothing of it"
            )
            continue
        out.counts["complaints listed by IncidentAbsorbed"] += len(ids)
        for complaint_id, n in Counter(ids).items():
            out.twice(f"listed by the merge of {source} into {event.into}", n, complaint_id)
        expected = _complaints_when_merged(incidents[source]) - had[key]
        if missing := expected - set(ids):
            out.mismatches.append(
                f"merge of {source} into {event.into}: {len(missing)} complaints not listed"
            )
        if extra := set(ids) - expected:
            out.mismatches.append(
                f"merge of {source} into {event.into}: {len(extra)} complaints listed not its"
            )
    for key in listed.keys() - {(s, e.into) for s, e in merged.items()}:
        out.mismatches.append(f"incident {key[1]} absorbed {key[0]}, which never merged into it")
    return {key: set(ids) for key, ids in listed.items()}


def _complaints_when_merged(events: Sequence[Any]) -> set[UUID]:
    """An incident's complaints as it ended (a merged incident takes nothing after its merge)."""
    ids: set[UUID] = set()
    for e in events:
        if isinstance(e, IncidentMerged):
            break
        if isinstance(e, ComplaintAddedToIncident):
            ids.add(e.complaint_id)
        elif isinstance(e, IncidentAbsorbed):
            ids.update(e.complaint_ids)
    return ids


def _moves(
    complaint_id: UUID, events: Sequence[Any], moves: Counter[tuple[UUID, UUID, UUID]], out: Effects
) -> UUID | None:
    """Count the complaint's moves; every one out of the incident it is in. Returns its incident at the end."""
    current: UUID | None = None
    for e in events:
        if isinstance(e, ComplaintLinkedToIncident):
            current = e.incident_id
        elif isinstance(e, ComplaintMovedToIncident):
            if e.from_incident_id != current:
                out.mismatches.append(
                    f"{complaint_id}: moved out of {e.from_incident_id}, it was in {current}"
                )
            moves[(complaint_id, e.from_incident_id, e.incident_id)] += 1
            current = e.incident_id
    return current


# ---- department bulk actions ------------------------------------------------------------------------


def acceptances(complaints: Histories, bulk_accepted: Collection[tuple[UUID, str]], out: Effects) -> None:
    """At most one sign-for per dispatch; each case a bulk accept answered for signed for once by that
    department (a department a case was returned by never gets it again, so once per department; a case
    returned by one and sent on to another may be signed for in bulk by both)."""
    for complaint_id, events in complaints.items():
        since_dispatch = 0
        for e in events:
            if isinstance(e, ComplaintDispatched):
                since_dispatch = 0
            elif isinstance(e, DispatchAccepted):
                since_dispatch += 1
                out.counts["DispatchAccepted"] += 1
                out.twice("accepted for one dispatch", since_dispatch, complaint_id)
    for complaint_id, department in bulk_accepted:
        events = complaints.get(complaint_id, [])
        n = sum(e.department == department for e in of_kind(events, DispatchAccepted))
        out.counts["DispatchAccepted (in bulk)"] += n
        if n != 1:
            out.mismatches.append(
                f"{complaint_id}: accepted in bulk by {department}, DispatchAccepted {n} times"
            )


# ---- re-drives --------------------------------------------------------------------------------------

Records = Sequence[tuple[int, dict[str, Any]]]  # (stream position, the record's JSON) of one subject


def redrives(worker: str, dead: Records, requests: Records, retried: Records, out: Effects) -> None:
    """Every retry request answered once: a `retried` record (succeeded or ignored) or a new dead letter
    naming it; no dead-lettered event re-driven successfully twice."""
    # A dead letter names a request only when it is a retry's (the first one of an event names none).
    answers = Counter(int(r["retry_position"]) for _, r in (*retried, *dead) if r.get("retry_position"))
    outcomes = Counter(r.get("outcome") for _, r in retried)
    if not requests and not answers:
        return  # nothing was re-driven
    out.counts[f"retry requests ({worker})"] += len(requests)
    out.counts[f"retries succeeded ({worker})"] += outcomes[redrive.SUCCEEDED]
    out.counts[f"retries ignored ({worker})"] += outcomes[redrive.IGNORED]
    out.counts[f"retries dead-lettered again ({worker})"] += sum(bool(r.get("retry_of")) for _, r in dead)
    for position, _ in requests:
        if answers[position] != 1:
            out.mismatches.append(f"{worker}: retry request {position} answered {answers[position]} times")
    for position in answers.keys() - {p for p, _ in requests}:
        out.mismatches.append(f"{worker}: an outcome names retry request {position}, which is not one")
    succeeded = Counter(r.get("seq") for _, r in retried if r.get("outcome") == redrive.SUCCEEDED)
    for event_position, n in succeeded.items():
        out.twice(f"{worker}: re-driven successfully", n, f"event {event_position}")
