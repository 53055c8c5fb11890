"""Publishing a notice behind the redaction guard: the command the API's publish endpoint should call.

The aggregate checks the lifecycle (approved before published); this adds what only a service can know:
the names and addresses of the complainants linked to the incident, given by a ``KnownPersonalData``
source (unsealing needs the personal-data key store). Nothing is published when anything is found.
"""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

import structlog

from events.notice import Notice
from events.publishing.redaction import check_publishable
from events.store.aggregates import AggregateStore

log = structlog.get_logger(__name__)


class KnownPersonalData(Protocol):
    async def for_incident(self, incident_id: UUID | None) -> list[str]: ...


class NoKnownPersonalData:
    """Pattern checks only (phones, ID numbers, emails): for deployments without the key store."""

    async def for_incident(self, incident_id: UUID | None) -> list[str]:
        return []


async def publish_notice(notice_id: UUID, *, repository: AggregateStore, known: KnownPersonalData) -> Notice:
    """Publish an approved notice, or raise DomainError (``contains_personal_data``, or the lifecycle's)."""
    notice = await repository.get(notice_id, Notice)
    texts = {f: getattr(notice, f) for f in ("title_en", "title_zh", "body_en", "body_zh")}
    check_publishable(texts, await known.for_incident(notice.incident_id))
    notice.publish()
    await repository.save(notice)
    log.info("notice_published", notice_id=str(notice_id), version=notice.published_version)
    return notice
