"""The notices service's own summary drafts of each incident, in stream order, so that a new one withdraws
the older ones still waiting for approval (``handlers.on_notice_drafted``): press and command see one current
draft per incident, not "2 reports received" next to "450 reports received".

A fold of the stream kept in memory, like the scheduler's active incidents: a new instance starts from the
scheduler's shelf (services/notices/summary_shelf.py) or folds from the start, and the scheduler's reading
feeds it too. Each draft is kept with its stream position, so "the drafts older than this one" has one answer
whichever batch asks, and a redone batch withdraws the same drafts. The withdrawal happens once because the worker commits it with its tracking record; a draft already
withdrawn (or approved, or revised by a person) is no longer one to withdraw, so asking again changes nothing.
"""

from __future__ import annotations

from uuid import UUID

import structlog
from eventsourcing.utils import get_topic

from events.notice import Notice, NoticeDrafted, NoticeState
from events.store.aggregates import TOPIC, AggregateStore
from events.store.records import StoredMessage
from services.notices.summary import DRAFTED_BY

log = structlog.get_logger(__name__)

DRAFTED_TOPIC = get_topic(NoticeDrafted)


def waiting_summary(notice: Notice) -> bool:
    """The service's own draft, never approved nor revised by a person: the only kind a newer one replaces."""
    return notice.state == NoticeState.DRAFT and notice.author == DRAFTED_BY


class SummaryDrafts:
    """Incident -> the service's summary drafts with their stream positions (memory only)."""

    def __init__(self) -> None:
        self.position = 0  # every message up to this stream position is folded in
        self._by_incident: dict[UUID, dict[UUID, int]] = {}

    def fold(self, message: StoredMessage, repository: AggregateStore) -> None:
        """One message of the stream, read by a caller that has folded every event before it. The worker's
        catch-up and the scheduler both read the stream: whichever comes second skips what is folded."""
        if message.seq <= self.position:
            return
        if message.headers.get(TOPIC) == DRAFTED_TOPIC:
            notice_id = UUID(message.subject.rsplit(".", 1)[1])
            try:
                event = repository.to_domain_event(notice_id, message)
            except Exception as exc:  # the worker dead-letters it; no draft of anyone's comes of it
                log.warning("summary_draft_unreadable", notice_id=str(notice_id), error=repr(exc)[:500])
            else:
                if event.drafted_by == DRAFTED_BY and event.incident_id is not None:
                    self._by_incident.setdefault(event.incident_id, {}).setdefault(notice_id, message.seq)
        self.position = max(self.position, message.seq)

    async def catch_up(self, repository: AggregateStore, *, upto: int) -> None:
        """Fold the stream at least up to position `upto` (a no-op when the scheduler already has)."""
        while self.position < upto:
            start = self.position
            # The whole stream, unfiltered: a subject-filtered read costs nats-server several times the CPU
            # per message (services/runtime/worker.py); whatever is not a NoticeDrafted is only skipped.
            messages = await repository.store.read(after_seq=start, limit=1000, subject=">")
            for message in messages:
                self.fold(message, repository)
            if not messages or self.position == start:
                return

    def older(self, incident_id: UUID, position: int) -> list[UUID]:
        """The service's drafts of the incident stored before `position`, oldest first."""
        drafts = self._by_incident.get(incident_id, {})
        return [n for n, seq in sorted(drafts.items(), key=lambda item: item[1]) if seq < position]

    def shelved(self, *, upto: int) -> dict[UUID, dict[UUID, int]]:
        """A copy of the index of the drafts stored up to position `upto`, to shelve (summary_shelf.py); only
        called with `upto` at most the index's own position."""
        copy = {
            incident: {notice: seq for notice, seq in drafts.items() if seq <= upto}
            for incident, drafts in self._by_incident.items()
        }
        return {incident: drafts for incident, drafts in copy.items() if drafts}

    def restore(self, position: int, by_incident: dict[UUID, dict[UUID, int]]) -> bool:
        """Take a shelved index, unless this one is folded as far already (the worker may have folded it
        meanwhile); whether it was taken."""
        if position <= self.position:
            return False
        self.position, self._by_incident = position, by_incident
        return True

    def forget(self, incident_id: UUID, notice_id: UUID) -> None:
        """A draft that can never be withdrawn again (approved, revised by a person, cancelled, published)."""
        self._by_incident.get(incident_id, {}).pop(notice_id, None)
