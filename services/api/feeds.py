"""Public feeds of published notices: an Atom feed, and each notice's current CAP 1.2 message.

The read model says which notices were ever published; what a feed says about each is folded from the
notice's own events (events.publishing), so a CAP identifier and its `references` are the same whoever asks
and whenever. Links are absolute, on the host the client asked for: feed readers and alert aggregators
fetch them from elsewhere.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from events.incident import Incident
from events.notice import SUMMARY_AUTHOR
from events.publishing.atom import FeedMeta, render_atom
from events.publishing.cap import render_cap
from events.publishing.notice_view import NoticeView, notice_view, superseding
from events.reference import load_reference
from events.store import StoreError
from events.store.aggregates import AggregateNotFound
from services.api import keys
from services.api.openapi import problem_responses
from services.api.problems import Problem
from services.api.read_models.queries import S
from services.api.read_routes import API, reading
from services.api.resources import WRITERS

FEED = f"{API}/notices/feed.atom"
CAP = f"{API}/notices/{{id}}/cap.xml"
FEED_SIZE = 50  # newest notices ever published, withdrawn ones included (saying so)
ATOM_TYPE, CAP_TYPE = "application/atom+xml", "application/cap+xml"
SENDER = "notices@levee.invalid"  # CAP's sender: an address that names the system, not a person
# A feed is polled: a minute's caching costs a reader nothing and spares the event store in a surge.
MAX_AGE = 60  # seconds a reader or a proxy may keep a feed or a CAP message
FEED_NAMESPACE = uuid.UUID("6f1c2f0e-3d7a-4b8e-9a4e-5c1d2b3a4f60")  # never change: readers know feeds by id


def add_routes(app: web.Application) -> None:
    app[_FEEDS] = _KeptViews()
    app.router.add_get(FEED, atom_feed, name="feeds.atom")
    app.router.add_get(CAP, cap_message, name="feeds.cap")


# The feed's notices, read this long ago at most: each read replays up to FEED_SIZE notices and their incidents
# from the stream, on a public path that is not rate-limited, so a crowd of feed readers (or one script) cost that
# each time. One read at a time: readers arriving meanwhile wait for it. Rendered per request (its links follow
# the request's origin), which is cheap.
FEED_KEPT_SECONDS = 30.0
FEED_FAILED_SECONDS = 5.0  # a failed read is the answer of every reader for this long: they do not queue up


@dataclass
class _KeptViews:
    views: list[NoticeView] = field(default_factory=list)
    read_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    failed: tuple[float, BaseException] | None = None  # when the last read failed, and how


_FEEDS = web.AppKey("atom_feed_views", _KeptViews)


async def atom_feed(request: web.Request) -> web.Response:
    kept = request.app[_FEEDS]
    if time.monotonic() - kept.read_at >= FEED_KEPT_SECONDS:
        async with kept.lock:
            if kept.failed is not None and time.monotonic() - kept.failed[0] < FEED_FAILED_SECONDS:
                # In an outage each read waits out its timeout: readers queued behind one take its answer,
                # not a timeout each, one after another.
                raise kept.failed[1]
            if time.monotonic() - kept.read_at >= FEED_KEPT_SECONDS:  # not read meanwhile by the one before
                try:
                    kept.views = await _read_views(request)
                except (Problem, keys.DependencyUnavailable) as exc:  # the 503s of an outage
                    kept.failed = (time.monotonic(), exc)
                    raise
                kept.failed = None
                kept.read_at = time.monotonic()
    origin = public_origin(request)
    meta = FeedMeta(
        feed_id=_feed_id(request), title="Levee public notices 公共通告", self_url=f"{origin}{FEED}",
        notice_url=f"{origin}/status#notice-{{id}}", cap_url=f"{origin}{API}/notices/{{id}}/cap.xml",
        updated_when_empty=datetime(2000, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    # Fresh for what is left of a minute since the read, not a minute more: a withdrawn notice goes within 60 s.
    age = int(time.monotonic() - kept.read_at)
    return _xml(request, render_atom(kept.views, meta), ATOM_TYPE, max_age=max(0, MAX_AGE - age))


async def _read_views(request: web.Request) -> list[NoticeView]:
    async with reading(request) as conn:
        ids = await conn.fetch(
            f"SELECT id FROM {S}.notices WHERE published_version > 0 "
            "ORDER BY coalesce(cancelled_at, published_at) DESC, id LIMIT $1",
            FEED_SIZE,
        )
    # Up to FEED_SIZE notices, each two reads of the stream: asked together, not one after another.
    found = await asyncio.gather(*(_view(request, row["id"]) for row in ids))
    views = [view for view in found if view is not None]
    views.sort(key=lambda v: v.sent, reverse=True)
    return views


async def cap_message(request: web.Request) -> web.Response:
    try:
        notice_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise _no_notice(request.match_info["id"]) from None
    view = await _view(request, notice_id)
    if view is None:
        raise _no_notice(str(notice_id))
    if view.summary and view.incident_id is not None and (earlier := await _summary_before(request, view)):
        # A progress summary supersedes the incident's one published before it: an Update referencing that
        # one, so an alert feed does not keep the stale figures standing beside the new (found by a review).
        view = superseding(view, earlier)
    web_page = f"{public_origin(request)}/status#notice-{notice_id}"
    return _xml(request, render_cap(view, sender=SENDER, web=web_page), CAP_TYPE)


def _feed_id(request: web.Request) -> str:
    """Permanent (RFC 4287, 4.2.6): the public URL when the deployment says it, else one made from the served
    area's code, never the Host a request named (a reader would take each host for another feed)."""
    public = request.app[keys.SETTINGS].public_url
    if public:
        return f"{public}{FEED}"
    return f"urn:uuid:{uuid.uuid5(FEED_NAMESPACE, load_reference().area.code)}"


def public_origin(request: web.Request) -> str:
    """LEVEE_PUBLIC_URL, else the scheme and host this request named."""
    return request.app[keys.SETTINGS].public_url or str(request.url.origin())


async def _summary_before(request: web.Request, view: NoticeView) -> NoticeView | None:
    """The incident's progress summary first published last before this one and not withdrawn, as the public saw
    it; None if none. Which one is the read model's to say (its `drafted_by`, kept when press corrects a summary);
    what it sent is its own events'."""
    async with reading(request) as conn:
        earlier = await conn.fetchval(
            f"SELECT id FROM {S}.notices WHERE incident_id = $1 AND drafted_by = $2 AND id <> $3 "
            "AND first_published_at < $4 AND cancelled_at IS NULL ORDER BY first_published_at DESC, id LIMIT 1",
            view.incident_id, SUMMARY_AUTHOR, view.notice_id, view.first_published,
        )  # fmt: skip
    return None if earlier is None else await _view(request, earlier)


async def _view(request: web.Request, notice_id: uuid.UUID) -> NoticeView | None:
    """The notice as the public last saw it, from its events; None if never published (or no such id)."""
    writers = request.app[WRITERS]
    try:
        aggregates = await writers.aggregates()
        events = await aggregates.history(notice_id)
        if not events:
            return None
        incident_id = getattr(events[0], "incident_id", None)
        incident = await aggregates.get(incident_id, Incident) if incident_id else None
    except keys.DependencyUnavailable as exc:
        raise _unavailable(exc.detail) from None
    except AggregateNotFound:
        incident = None
    except StoreError as exc:
        raise _unavailable(str(exc)) from None
    return notice_view(events, incident=incident, reference=writers.reference)


def _xml(request: web.Request, text: str, content_type: str, *, max_age: int = MAX_AGE) -> web.Response:
    """The document, with an ETag of its bytes: a reader polling every minute asks If-None-Match and gets a 304
    without the body while nothing changed (found by a review: every poll took the whole feed)."""
    body = text.encode()
    tag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    # Weak: the same document may go out compressed or not (RFC 9110 8.8.3; If-None-Match compares weakly).
    headers = {"Cache-Control": f"public, max-age={max_age}", "ETag": f"W/{tag}"}
    if request.app[keys.SETTINGS].public_url is None:
        # Its links name the Host asked (public_origin): a shared cache must not hand one Host's copy to another
        # (a forged Host put http://attacker.example into cached links: found by a security review).
        headers["Vary"] = "Host"
    asked = request.headers.get("If-None-Match", "")
    if tag in (given.strip().removeprefix("W/") for given in asked.split(",")) or asked.strip() == "*":
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)


def _no_notice(given: str) -> Problem:
    return Problem(404, "Not found", f"No published notice has id {given}.", code="not_found")


def _unavailable(detail: str) -> Problem:
    return Problem(503, "Service unavailable", f"The event store cannot answer: {detail}", code="unavailable")


_XML_OK = {
    "description": "OK",
    "headers": {"Cache-Control": {"schema": {"type": "string"}}, "ETag": {"schema": {"type": "string"}}},
}
_NOT_MODIFIED = {"304": {"description": "Not modified: the If-None-Match tag is the document's (no body)"}}
OPENAPI_PATHS: dict[str, Any] = {
    FEED: {"get": {
        "operationId": "notices_atom", "tags": ["public"], "security": [{}],
        "summary": "Published notices as an Atom feed (RFC 4287), newest first; withdrawn ones say so",
        "description": "Public (no token). Each entry links to its CAP 1.2 message.",
        "responses": {"200": {**_XML_OK, "content": {ATOM_TYPE: {"schema": {"type": "string"}}}},
                      **_NOT_MODIFIED, **problem_responses(503)},
    }},
    CAP: {"get": {
        "operationId": "notice_cap", "tags": ["public"], "security": [{}],
        "summary": "A published notice's current CAP 1.2 message (Alert, Update or Cancel)",
        "description": "Public (no token). Valid against the OASIS CAP 1.2 schema.",
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "string", "format": "uuid"}}],
        "responses": {"200": {**_XML_OK, "content": {CAP_TYPE: {"schema": {"type": "string"}}}},
                      **_NOT_MODIFIED, **problem_responses(404, 503)},
    }},
}  # fmt: skip
