"""What a published notice looks like to the outside world: a pure fold of its events into a view,
and the mappings CAP needs (message type, urgency/severity/certainty, category, identifiers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from events.incident import Incident
from events.notice import SUMMARY_AUTHOR, NoticeCancelled, NoticeDrafted, NoticePublished
from events.reference import BoundingBox, Reference

MsgType = Literal["Alert", "Update", "Cancel"]
# Three summary periods (one an hour): a summary not followed by a newer one leaves alert feeds after this.
SUMMARY_EXPIRES = timedelta(hours=3)


@dataclass(frozen=True)
class CapScale:
    urgency: str
    severity: str
    certainty: str


# The public-status words (investigating, identified, monitoring, resolved) on CAP's scales.
STATUS_SCALE: dict[str, CapScale] = {
    "investigating": CapScale("Expected", "Moderate", "Possible"),
    "identified": CapScale("Immediate", "Severe", "Likely"),
    "monitoring": CapScale("Expected", "Moderate", "Observed"),
    "resolved": CapScale("Past", "Minor", "Observed"),
}
# Incident kinds are free text; the first keyword found picks CAP's category.
KIND_CATEGORY: tuple[tuple[str, str], ...] = (
    ("typhoon", "Met"), ("storm", "Met"), ("flood", "Met"), ("rain", "Met"), ("earthquake", "Geo"),
    ("landslide", "Geo"), ("fire", "Fire"), ("gas", "Safety"), ("power", "Infra"), ("water", "Infra"),
    ("telecom", "Infra"), ("outage", "Infra"), ("road", "Transport"), ("health", "Health"), ("medical", "Health"),
    ("shelter", "Rescue"), ("relief", "Rescue"),
)  # fmt: skip


@dataclass(frozen=True)
class AreaView:
    desc_en: str
    desc_zh: str
    bbox: BoundingBox

    @property
    def polygon(self) -> str:
        """CAP polygon: "lat,lon" pairs, closed (the first point repeated last)."""
        b = self.bbox
        corners = [
            (b.south, b.west),
            (b.north, b.west),
            (b.north, b.east),
            (b.south, b.east),
            (b.south, b.west),
        ]
        return " ".join(f"{lat:.4f},{lon:.4f}" for lat, lon in corners)


@dataclass(frozen=True)
class Sent:
    """One CAP message already sent about a notice: what ``references`` points at."""

    identifier: str
    sent: datetime


@dataclass(frozen=True)
class NoticeView:
    notice_id: UUID
    incident_id: UUID | None
    incident_kind: str
    msg_type: MsgType
    identifier: str
    sent: datetime
    first_published: datetime
    version: int
    status: str
    title_en: str
    title_zh: str
    body_en: str
    body_zh: str
    areas: tuple[AreaView, ...]
    references: tuple[Sent, ...] = ()
    event_en: str = ""  # CAP's <event>: the incident's kind in each language (a category's name)
    event_zh: str = ""
    summary: bool = False  # a progress summary drafted by the notices service
    published: tuple[Sent, ...] = ()  # every message of its own publications, oldest first

    @property
    def expires(self) -> datetime | None:
        """A progress summary's figures go stale: it expires SUMMARY_EXPIRES after it was sent (a later summary
        supersedes it sooner); other notices stand until updated or withdrawn."""
        return self.sent + SUMMARY_EXPIRES if self.summary and self.msg_type != "Cancel" else None

    @property
    def scale(self) -> CapScale:
        return STATUS_SCALE.get(self.status, STATUS_SCALE["investigating"])

    @property
    def category(self) -> str:
        kind = self.incident_kind.lower()
        return next((category for word, category in KIND_CATEGORY if word in kind), "Other")


def message_identifier(notice_id: UUID, version: int, cancelled: bool = False) -> str:
    """Unique per CAP message, stable on replay; no spaces, commas, '<' or '&' (CAP 1.2, 3.2.1)."""
    return f"levee-notice-{notice_id}-{'cancel' if cancelled else f'v{version}'}"


def cap_time(moment: datetime) -> str:
    """CAP's dateTime: seconds, an explicit offset, never "Z" or fractions; UTC written "-00:00", as CAP 1.2
    (3.3.2) requires."""
    return atom_time(moment).removesuffix("+00:00") + "-00:00"


def atom_time(moment: datetime) -> str:
    """RFC 3339 in UTC, to the second: "2026-07-01T08:00:00+00:00"."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def areas_for(incident: Incident | None, reference: Reference) -> tuple[AreaView, ...]:
    """The incident's districts; none (or no incident) means the whole served area."""
    districts = [reference.district(code) for code in (incident.districts if incident else [])]
    if not districts:
        a = reference.area
        return (AreaView(a.name_en, a.name_zh, a.bbox),)
    return tuple(AreaView(d.name_en, d.name_zh, d.bbox) for d in districts)


def _event_names(kind: str, view: dict[str, Any], reference: Reference) -> dict[str, str]:
    """The incident's kind as CAP's <event> in each language: a category's names ("power_outage": 停电 / Power
    outage), else as command typed it; no incident: the notice's title."""
    category = next((c for c in reference.categories if c.code == kind), None)
    if category is not None:
        return {"event_en": category.name_en, "event_zh": category.name_zh}
    return {"event_en": kind or view["title_en"], "event_zh": kind or view["title_zh"]}


def superseding(view: NoticeView, earlier: NoticeView) -> NoticeView:
    """A progress summary as it supersedes the incident's one published before it: an Update (not a second Alert
    standing beside the stale one) whose references name that one's messages first."""
    return dataclasses.replace(
        view, msg_type="Update" if view.msg_type == "Alert" else view.msg_type,
        references=(*earlier.published, *view.references),
    )  # fmt: skip


def notice_view(
    events: Iterable[Any], *, incident: Incident | None, reference: Reference
) -> NoticeView | None:
    """The notice as the public last saw it (latest publication, or its cancellation); None if never public."""
    sent: list[Sent] = []
    view: dict[str, Any] = {}
    cancelled_at: datetime | None = None
    notice_id: UUID | None = None
    for event in events:
        notice_id = event.originator_id
        if isinstance(event, NoticeDrafted):
            view["incident_id"] = event.incident_id
            view["summary"] = event.drafted_by == SUMMARY_AUTHOR
        elif isinstance(event, NoticePublished):
            sent.append(Sent(message_identifier(notice_id, event.version), event.timestamp))
            view.update(
                title_en=event.title_en, title_zh=event.title_zh, body_en=event.body_en,
                body_zh=event.body_zh, status=event.status, version=event.version,
            )  # fmt: skip
        elif isinstance(event, NoticeCancelled) and sent:
            cancelled_at = event.timestamp
    if notice_id is None or not sent:
        return None
    common = {
        "notice_id": notice_id, "incident_id": view.get("incident_id"),
        "incident_kind": incident.kind if incident else "", "first_published": sent[0].sent,
        "areas": areas_for(incident, reference), "summary": bool(view.get("summary")), "published": tuple(sent),
        **_event_names(incident.kind if incident else "", view, reference),
        **{k: view[k] for k in ("title_en", "title_zh", "body_en", "body_zh", "status", "version")},
    }  # fmt: skip
    if cancelled_at is not None:
        identifier = message_identifier(notice_id, view["version"], cancelled=True)
        return NoticeView(
            **common, msg_type="Cancel", identifier=identifier, sent=cancelled_at,
            references=tuple(sent),
        )  # fmt: skip
    return NoticeView(
        **common, msg_type="Alert" if len(sent) == 1 else "Update", identifier=sent[-1].identifier,
        sent=sent[-1].sent, references=tuple(sent[:-1]),
    )  # fmt: skip
