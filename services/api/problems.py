"""RFC 9457 problem details: every 4xx/5xx the API gives says what was wrong and, where it can, which field.

Handlers raise `Problem`; the `problems` middleware turns it (and aiohttp's own HTTP errors) into
`application/problem+json`. A `DomainError` from the model becomes 409 (the case is not in a state for it)
or 422 (a value is wrong) with its code, so clients can act on it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from events.errors import DomainError
from events.mapper import NewerEventError
from services.api import keys

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://levee.example/problems/"
RETRY_AFTER_SECONDS = 5
STORE_FULL_RETRY_AFTER_SECONDS = 60
UPGRADE_RETRY_AFTER_SECONDS = 60


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str  # a JSON pointer-ish path: "location.lat", "reporter.phone"
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class Problem(Exception):
    status: int
    title: str
    detail: str
    code: str = "about:blank"
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, Any] = field(default_factory=dict)

    def response(self) -> web.Response:
        body: dict[str, Any] = {
            "type": self.code if self.code == "about:blank" else TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            **self.extensions,
        }
        if self.code != "about:blank":
            body["code"] = self.code
        if self.errors:
            body["errors"] = [e.as_dict() for e in self.errors]
        headers = {"Cache-Control": "no-store", **self.headers}
        if self.status in (429, 503) and "Retry-After" not in headers:
            headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return web.json_response(body, status=self.status, content_type=PROBLEM_JSON, headers=headers)


def store_full(exc: Exception) -> Problem:
    """503 for a write JetStream refused for lack of storage. Not a blip: it lasts until an operator adds
    space (docs/operations.md, section 12), so clients are asked to wait longer than for a restart."""
    return Problem(
        503, "The event store is full",
        f"Nothing was stored: {exc}. This lasts until an operator frees or adds storage; try again later.",
        code="event_store_full", headers={"Retry-After": str(STORE_FULL_RETRY_AFTER_SECONDS)},
    )  # fmt: skip


def written_by_newer_version(exc: NewerEventError) -> Problem:
    """503 for an aggregate holding an event a newer Levee wrote: this process would misread it. It lasts until
    this API process is upgraded too (docs/operations.md, section 6), so not a 500, and nothing is changed."""
    return Problem(
        503, "Written by a newer version",
        f"This record holds an event a newer version of Levee wrote ({exc}), which this API process cannot read: "
        "an upgrade is under way. Nothing was changed; ask again once every API process runs the new version.",
        code="written_by_newer_version", headers={"Retry-After": str(UPGRADE_RETRY_AFTER_SECONDS)},
    )  # fmt: skip


def write_unconfirmed(exc: Exception, what: str, advice: str = "Ask again to find out.") -> Problem:
    """503 for a write NATS never answered and that could not be read back whole: `what` may yet be stored.
    Asking again is safe for a command (one already applied is refused as a conflict or skipped), so that is
    the default advice; intake's depends on whether the caller sent an Idempotency-Key."""
    return Problem(
        503, "Not confirmed", f"{what} may or may not be stored: {exc}. {advice}", code="write_unconfirmed"
    )


# A 422 names at most this many fields: 64 KiB of bad list items is not answered with megabytes.
ERRORS_LISTED = 20


def invalid(errors: list[FieldError], detail: str | None = None) -> Problem:
    """422: the body was understood but some values are wrong (each one named, up to ERRORS_LISTED)."""
    listed = errors[:ERRORS_LISTED]
    summary = detail or "; ".join(f"{e.field}: {e.message}" for e in listed)
    if len(errors) > len(listed):
        summary += f"; and {len(errors) - len(listed)} more"
    return Problem(422, "Invalid request", summary, code="invalid_fields", errors=listed)


def from_domain_error(exc: DomainError) -> Problem:
    status = 422 if exc.field else 409
    errors = [FieldError(exc.field, exc.message)] if exc.field else []
    title = "Invalid value" if exc.field else "Conflicts with the current state"
    problem = Problem(status, title, exc.message, code=exc.code, errors=errors)
    if exc.found:  # [{field, kind, excerpt}]: what the redaction guard found, masked, for a page's own words
        problem.extensions["found"] = exc.found
    return problem


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return logged(request, problem).response()
    except DomainError as exc:
        return logged(request, from_domain_error(exc)).response()
    except NewerEventError as exc:
        return logged(request, written_by_newer_version(exc)).response()
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == PROBLEM_JSON:
            raise
        return Problem(exc.status, exc.reason, exc.text or exc.reason, headers=_kept_headers(exc)).response()


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}


def logged(request: web.Request, problem: Problem) -> Problem:
    """The request's log line says which problem it answered, and for a 5xx why: at 3 a.m. a wall of
    `status=503` on intake said nothing of a full store, a stalled broker or a backlog. A 4xx's detail may echo
    what the client sent, so only its code."""
    log_problem(request, problem.code, problem.status, problem.detail)
    return problem


def log_problem(request: web.Request, code: str, status: int, detail: str) -> None:
    """As `logged`, for an answer built without a Problem (the health checks')."""
    fields = request.setdefault(keys.LOG_FIELDS, {})
    fields["problem"] = code
    if status >= 500:
        fields["problem_detail"] = detail[:300]
