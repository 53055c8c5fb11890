"""Drafting a progress summary as a Notice with an id fixed by its occasion (adapter over the aggregate).

``Notice.draft`` always makes a random id; a summary needs a derived one so a second attempt is refused
(the new subject must be empty) instead of making a second draft. The text still goes through
``Notice.draft``'s own checks first.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID

from events.incident import Incident
from events.notice import Notice, NoticeDrafted
from events.publishing.notice_view import areas_for
from events.publishing.redaction import mask
from events.reference import Reference
from events.store.aggregates import AggregateStore
from services.notices.summary import (
    DRAFTED_BY,
    ComplaintFacts,
    FactsMemo,
    Figures,
    SummaryPolicy,
    facts_from_history,
    figures,
    summary_notice_id,
    summary_text,
)


async def incident_figures(
    incident: Incident, repository: AggregateStore, memo: FactsMemo | None = None, *, concurrency: int = 32
) -> Figures:
    """Figures over the incident's complaints: from the memo the worker keeps, else from their histories,
    read concurrently (an incident can have thousands: one round trip after another took seconds)."""
    store = repository.store
    gate = asyncio.Semaphore(concurrency)

    async def read(complaint_id: UUID) -> ComplaintFacts | None:
        async with gate:
            messages = await store.read_subject(store.spec.event_subject(complaint_id))
        found = facts_from_history(repository.to_domain_event(complaint_id, m) for m in messages)
        if found is not None and memo is not None:
            memo.put(complaint_id, found)
        return found

    # The memo knows almost all of them: a task per complaint only for the few it does not.
    known = {i: memo.get(i) for i in incident.complaint_ids} if memo is not None else {}
    missing = [i for i in incident.complaint_ids if known.get(i) is None]
    read_now = dict(zip(missing, await asyncio.gather(*(read(i) for i in missing)), strict=True))
    found = [read_now.get(i) if known.get(i) is None else known[i] for i in incident.complaint_ids]
    return figures([f for f in found if f is not None])


def incident_titles(incident: Incident, reference: Reference) -> tuple[str, str]:
    """(English, Chinese) words for the incident. Triage names the incidents it declares by category code
    ("power_outage in old_town"): the public reads the category's names instead. Staff titles stay as typed."""
    category = next((c for c in reference.categories if c.code == incident.kind), None)
    if incident.declared_by != "triage" or category is None:
        # A title typed by command may carry a site lead's phone ("... call 138..."): the public draft masks
        # it, or the draft's own check would refuse every summary of the incident for good.
        title = mask(incident.title)
        return title, title
    return category.name_en, category.name_zh


def summary_notice(
    incident: Incident,
    occasion: str,
    numbers: Figures,
    *,
    reference: Reference,
    policy: SummaryPolicy,
    now: datetime,
) -> Notice:
    areas = areas_for(incident, reference)
    title_en, title_zh = incident_titles(incident, reference)
    text = summary_text(
        title=title_en, title_zh=title_zh, area_en=", ".join(a.desc_en for a in areas),
        area_zh="、".join(a.desc_zh for a in areas), status=incident.status, numbers=numbers, as_of=now,
        tz=policy.tz,
    )  # fmt: skip
    fields: dict[str, Any] = {"incident_id": incident.id, **text, "drafted_by": DRAFTED_BY}
    Notice.draft(**fields)  # the aggregate's own checks; the draft itself is discarded
    notice_id: UUID = summary_notice_id(incident.id, occasion)
    return Notice._create(NoticeDrafted, id=notice_id, **fields)
