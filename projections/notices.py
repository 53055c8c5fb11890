"""The `notices` read model: the working text for press and command staff, and apart from it the text the
public sees, which changes only when a text is published (as the aggregate's `published_text` does).

States are the aggregate's, except that a cancellation naming its replacement (``Notice.supersede``) reads
`superseded`: never published, so no public view shows it either way."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from events import notice as ev
from projections.ops import Op, SqlOp

TABLE = "notices"

_DRAFT = (
    "INSERT INTO notices (id, incident_id, state, title_en, title_zh, body_en, body_zh, status, author, "
    "drafted_by, drafted_at, updated_at) VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $8, $9, $9)"
)
_TEXT = (
    "title_en = $3, title_zh = $4, body_en = $5, body_zh = $6, status = $7, author = $8, approved_by = NULL"
)


def _set(event: Any, assignments: str, *values: Any) -> list[Op]:
    sql = f"UPDATE notices SET {assignments}, updated_at = $2 WHERE id = $1"
    args = (event.originator_id, event.timestamp, *values)
    return [SqlOp(TABLE, sql, args, key=(TABLE, event.originator_id))]


def _text(event: Any, author: str) -> tuple[Any, ...]:
    return (event.title_en, event.title_zh, event.body_en, event.body_zh, event.status, author)


@singledispatch
def apply(event: object) -> list[Op]:
    return []


@apply.register
def _(event: ev.NoticeDrafted) -> list[Op]:
    args = (event.originator_id, event.incident_id, *_text(event, event.drafted_by), event.timestamp)
    return [SqlOp(TABLE, _DRAFT, args, key=(TABLE, event.originator_id))]


@apply.register
def _(event: ev.NoticeRevised) -> list[Op]:
    # A revised approved text goes back for approval: to `updated` if something is published, else `draft`.
    state = (
        "state = CASE WHEN state = 'approved' THEN "
        "(CASE WHEN published_version > 0 THEN 'updated' ELSE 'draft' END) ELSE state END"
    )
    return _set(event, f"{state}, {_TEXT}", *_text(event, event.revised_by))


@apply.register
def _(event: ev.NoticeApproved) -> list[Op]:
    return _set(event, "state = 'approved', approved_by = $3", event.by)


@apply.register
def _(event: ev.NoticePublished) -> list[Op]:
    return _set(
        event,
        "state = 'published', public_title_en = $3, public_title_zh = $4, public_body_en = $5, "
        "public_body_zh = $6, public_status = $7, published_version = $8, published_at = $2, "
        "first_published_at = COALESCE(first_published_at, $2)",
        event.title_en, event.title_zh, event.body_en, event.body_zh, event.status, event.version,
    )  # fmt: skip


@apply.register
def _(event: ev.NoticeUpdated) -> list[Op]:
    return _set(event, f"state = 'updated', {_TEXT}", *_text(event, event.updated_by))


@apply.register
def _(event: ev.NoticeCancelled) -> list[Op]:
    # A draft withdrawn because a newer summary replaced it is `superseded`: staff tell it from a withdrawal.
    state = "superseded" if event.superseded_by is not None else "cancelled"
    return _set(event, f"state = '{state}', cancelled_at = $2")
