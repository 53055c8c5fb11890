"""Moving a complaint through the work order by hand (as triage, dispatch and departments would) for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from events.complaint import Complaint
from events.mapper import make_mapper
from events.notice import Notice
from events.store import JetStreamEventStore
from events.store.aggregates import TOPIC, AggregateStore

FACTORS = [{"name": "repeated", "weight": 0.1, "value": 1, "evidence": "test"}]


def aggregates(store: JetStreamEventStore) -> AggregateStore:
    return AggregateStore(store, make_mapper())


async def assess(
    store: JetStreamEventStore, complaint_id: str, level: str = "P2", hours: int = 24
) -> Complaint:
    repo = aggregates(store)
    c = await repo.get(UUID(complaint_id), Complaint)
    now = datetime.now(UTC)
    c.validate()
    c.assess_priority(60, level, FACTORS, now + timedelta(hours=1), now + timedelta(hours=hours))
    await repo.save(c)
    return c


async def resolved_by(
    store: JetStreamEventStore, complaint_id: str, department: str, level: str = "P2"
) -> None:
    await assess(store, complaint_id, level)
    repo = aggregates(store)
    c = await repo.get(UUID(complaint_id), Complaint)
    c.dispatch(department, by="dispatch", reason="category route")
    c.accept(department)
    c.resolve(department, "Crew restored the supply")
    await repo.save(c)


async def published_notice(store: JetStreamEventStore, **text: Any) -> UUID:
    notice = Notice.draft(
        incident_id=None, title_en=text.get("title_en", "Power cut in Riverside"),
        title_zh=text.get("title_zh", "河畔区停电"),
        body_en=text.get("body_en", "A substation failed at 06:10. Power is expected back by 18:00."),
        body_zh=text.get("body_zh", "变电站 06:10 故障，预计 18:00 前恢复供电。"),
        status="identified", drafted_by="press-li",
    )  # fmt: skip
    notice.approve("cmd-wu")
    notice.publish()
    await aggregates(store).save(notice)
    return notice.id


async def load(store: JetStreamEventStore, complaint_id: str) -> Complaint:
    return await aggregates(store).get(UUID(complaint_id), Complaint)


async def event_names(store: JetStreamEventStore, complaint_id: str) -> list[str]:
    messages = await store.read_subject(store.spec.event_subject(UUID(complaint_id)))
    return [m.headers[TOPIC].rpartition(":")[2] for m in messages]
