"""The notices service's reactions to events: one small function per event type.

Summaries are drafted, never approved or published here: command approves and press publishes through the
API, and the Notice aggregate enforces that order. app.py binds the keyword-only dependencies.
"""

from __future__ import annotations

from typing import Any

import structlog

from events.incident import Incident
from events.notice import Notice, NoticeState
from events.publishing.notice_view import message_identifier
from events.publishing.redaction import find_personal_data
from events.reference import Reference
from events.store import ConcurrencyConflict, StoreUnavailable
from events.store.aggregates import AggregateNotFound
from services.notices.drafting import incident_figures, summary_notice
from services.notices.summary import DRAFTED_BY, FactsMemo, SummaryPolicy, summary_notice_id
from services.notices.superseding import SummaryDrafts, waiting_summary
from services.runtime.unit_of_work import UnitOfWork

log = structlog.get_logger(__name__)


async def on_complaint_added_to_incident(
    event: Any, uow: UnitOfWork, *, policy: SummaryPolicy, reference: Reference, memo: FactsMemo | None = None
) -> None:
    """A complaint linked to an active incident brings a summary draft when the count it reaches is one of
    the policy's thresholds or a multiple of the last (``SummaryPolicy.drafts_at``)."""
    incident = await uow.get(event.originator_id, Incident)
    position = incident.position_of(event.complaint_id)
    # Not "merged" here: a merged incident takes no link after its merge, so every count a link reaches was
    # reached while it was active, and whether the merge is already read must not change the decision.
    if incident.status == "resolved" or position is None:
        return
    # The count as of this event, not as of now: a redone batch decides the same.
    await _draft_on_count(incident, position + 1, uow, policy=policy, reference=reference, memo=memo)


async def on_incident_absorbed(
    event: Any, uow: UnitOfWork, *, policy: SummaryPolicy, reference: Reference, memo: FactsMemo | None = None
) -> None:
    """A merge brought the merged incident's complaints at once: a threshold the count passed on the way
    brings its summary draft (the highest one passed), as one complaint at a time would have."""
    incident = await uow.get(event.originator_id, Incident)
    if incident.status == "resolved" or not event.complaint_ids:  # active when it absorbed (merge's rule)
        return
    last = incident.position_of(event.complaint_ids[-1])
    if last is None:
        return
    after = last + 1  # the count as of this event (a redone batch decides the same)
    passed = [n for n in range(after - len(event.complaint_ids) + 1, after + 1) if policy.drafts_at(n)]
    if passed:
        await _draft_on_count(incident, passed[-1], uow, policy=policy, reference=reference, memo=memo)


async def _draft_on_count(
    incident: Incident,
    count: int,
    uow: UnitOfWork,
    *,
    policy: SummaryPolicy,
    reference: Reference,
    memo: FactsMemo | None,
) -> None:
    if not policy.drafts_at(count):
        return
    occasion = f"complaints-{count}"
    try:
        await uow.get(summary_notice_id(incident.id, occasion), Notice)
        return  # drafted already
    except AggregateNotFound:
        pass
    numbers = await incident_figures(incident, uow.repository, memo)
    notice = summary_notice(incident, occasion, numbers, reference=reference, policy=policy, now=uow.now)
    uow.add(notice)
    log.info("summary_drafted", incident_id=str(incident.id), notice_id=str(notice.id), occasion=occasion)


async def on_notice_text(event: Any, uow: UnitOfWork) -> None:
    """Drafted, revised or updated text: warn early about what the guard will refuse at publication."""
    for field in ("title_en", "title_zh", "body_en", "body_zh"):
        findings = find_personal_data(getattr(event, field))
        if findings:
            log.warning(
                "notice_personal_data_suspected",
                notice_id=str(event.originator_id),
                field=field,
                findings=[f"{f.kind} {f.masked}" for f in findings],
            )


async def on_notice_drafted(event: Any, uow: UnitOfWork, *, drafts: SummaryDrafts) -> None:
    """A summary draft of the service's own withdraws the incident's older ones still waiting for approval
    (from the threshold handler or the scheduler alike); a person's draft, or one approved, stays."""
    await on_notice_text(event, uow)
    if event.drafted_by != DRAFTED_BY or event.incident_id is None:
        return
    # The drafts stored before this one: the same set however often this batch is redone (or redriven).
    await drafts.catch_up(uow.repository, upto=uow.position)
    older = drafts.older(event.incident_id, uow.position)
    if not older:
        return
    newer = await uow.get(event.originator_id, Notice)
    if newer.state == NoticeState.CANCELLED:
        return  # withdrawn before it was read here: it replaces nothing
    for notice_id in older:
        try:
            notice = await uow.get(notice_id, Notice)
        except (ConcurrencyConflict, StoreUnavailable):
            raise
        except Exception as exc:
            # That notice's own poison event is dead-lettered where it is; it must not make every later
            # summary of the incident poison too.
            log.error("summary_supersede_skipped", notice_id=str(notice_id), error=repr(exc)[:500])
            drafts.forget(event.incident_id, notice_id)
            continue
        if waiting_summary(notice):
            notice.supersede(newer.id, by=DRAFTED_BY)
            log.info(
                "summary_superseded",
                incident_id=str(event.incident_id),
                notice_id=str(notice_id),
                superseded_by=str(newer.id),
            )
        elif not notice.pending_events:
            drafts.forget(event.incident_id, notice_id)  # as stored, and never a waiting summary again


async def on_notice_published(event: Any, uow: UnitOfWork) -> None:
    log.info(
        "notice_published",
        notice_id=str(event.originator_id),
        cap_identifier=message_identifier(event.originator_id, event.version),
    )


async def on_notice_cancelled(event: Any, uow: UnitOfWork) -> None:
    log.info("notice_cancelled", notice_id=str(event.originator_id))
