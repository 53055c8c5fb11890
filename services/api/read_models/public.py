"""Public reads: status by tracking code, published notices, and what Open311 answers share (`public_text`).

Nothing here returns a reporter's personal data or the complaint's description: the public status comes from
the `public_status` / `public_progress` views, public progress notes are masked (`public_text`), Open311
locations are rounded and addresses are districts.
"""

from __future__ import annotations

from typing import Any

from events.notice import SUMMARY_AUTHOR
from events.publishing.notice_view import SUMMARY_EXPIRES
from events.publishing.redaction import mask
from services.api.read_models.queries import Conn, S, merged_into_sql

# Internal work-order steps in the words the public sees.
PUBLIC_STATUS = {
    "received": "received", "validated": "received", "prioritised": "received", "dispatched": "in_progress",
    "accepted": "in_progress", "returned": "in_progress", "reopened": "in_progress", "resolved": "resolved",
    "followed_up": "resolved", "closed": "closed", "rejected": "not_accepted", "duplicate": "merged",
}  # fmt: skip
CLOSED_FOR_OPEN311 = ("resolved", "followed_up", "closed", "rejected", "duplicate")
# About 110 m: enough to place a request on a map, not enough to point at one home.
COORDINATE_DECIMALS = 3
INCIDENT_NOTICES = 3  # the newest published notices about a complaint's incident, on its status
# A notice as the public sees it: its last published text, never a pending update.
_PUBLISHED_COLUMNS = (
    "id, incident_id, public_title_en AS title_en, public_title_zh AS title_zh, public_body_en AS body_en, "
    "public_body_zh AS body_zh, public_status AS status, published_version AS version, first_published_at, "
    "published_at"
)


async def public_status(conn: Conn, tracking_code: str) -> dict[str, Any] | None:
    """{tracking_code, status, category, district, received_at, accepted_at, resolved_at, closed_at,
    updated_at, expected_by, progress: [{at, text}], notices: [...]} or None. `expected_by`: by when the case is
    expected to be resolved, from the department's sign-for until it is (its resolve-by: the deadline watcher
    sets it at sign-for and clears it at the resolution), else None. The notes' text has personal data masked.
    `notices`: the published notices about the incident the complaint belongs to, newest first (at most
    INCIDENT_NOTICES; the public text only, as GET /api/v1/notices gives it). Codes are unique (each is claimed
    in the stream with its complaint); should older data share one, the newest complaint wins."""
    record = await conn.fetchrow(
        f"SELECT id, tracking_code, status, category, district, received_at, accepted_at, resolved_at, "
        f"closed_at, updated_at, incident_id, rejection_reason, expected_by FROM {S}.public_status "
        "WHERE tracking_code = $1 "
        "ORDER BY received_at DESC LIMIT 1",
        tracking_code,
    )
    if record is None:
        return None
    notes = await conn.fetch(
        f"SELECT at, text FROM {S}.public_progress WHERE complaint_id = $1 ORDER BY version", record["id"]
    )
    result = {
        key: value
        for key, value in dict(record).items()
        if key not in ("id", "incident_id", "rejection_reason")
    }
    result["status"] = PUBLIC_STATUS.get(record["status"], record["status"])
    # Not accepted: why, as triage words it for the caller (masked like every public text); else None.
    reason = record["rejection_reason"]
    result["reason"] = public_text(reason) if reason and record["status"] == "rejected" else None
    result["progress"] = [{**dict(n), "text": public_text(n["text"])} for n in notes]
    incident = record["incident_id"]
    result["notices"] = (
        [] if incident is None else await published_notices(conn, incident=incident, limit=INCIDENT_NOTICES)
    )
    return result


def just_received(tracking_code: str, received_at: Any) -> dict[str, Any]:
    """The public status of a complaint stored moments ago, before the read models show it: received."""
    return {
        "tracking_code": tracking_code, "status": "received", "category": None, "district": None,
        "received_at": received_at, "accepted_at": None, "resolved_at": None, "closed_at": None,
        "updated_at": received_at, "expected_by": None, "progress": [], "notices": [], "reason": None,
    }  # fmt: skip


async def published_notices(conn: Conn, *, incident: Any = None, limit: int = 50) -> list[dict[str, Any]]:
    """Notices as last published (a pending update is not shown; cancelled ones are gone), newest first. About
    an incident: also those about incidents merged into it, directly or through another (a merge moves the
    complaints, and what was published about the merged one still speaks to them). An automatic progress
    summary's figures go stale: it carries `expires_at` (SUMMARY_EXPIRES after it was published, as its CAP
    alert's <expires>) and is gone from the list after it; a review of the public pages found an "investigating,
    0 resolved" summary listed for good beside the notice that said the incident was resolved. Others: None."""
    rows = await conn.fetch(
        f"SELECT {_PUBLISHED_COLUMNS}, CASE WHEN drafted_by = $3 THEN published_at + $4::interval END AS expires_at "
        f"FROM {S}.notices WHERE published_version > 0 AND state <> 'cancelled' "
        f"AND ($1::uuid IS NULL OR incident_id IN ({merged_into_sql('$1::uuid')})) "
        "AND NOT (drafted_by IS NOT DISTINCT FROM $3 AND published_at + $4::interval <= now()) "
        "ORDER BY published_at DESC LIMIT $2",
        incident, limit, SUMMARY_AUTHOR, SUMMARY_EXPIRES,
    )  # fmt: skip
    return [dict(r) for r in rows]


def public_text(text: str | None) -> str | None:
    """A department's public note, masked: whoever typed it may have copied the caller's number or ID in."""
    return mask(text) if text else text
