"""Cross-origin requests from the city's own web forms and apps (LEVEE_CORS_ORIGINS).

A city portal on another origin (https://www.city.example) cannot call the API from a resident's browser without
CORS: the browser's preflight (OPTIONS) got 405 and every answer lacked Access-Control-Allow-Origin, so the
portal had to proxy every complaint, and behind that proxy every resident shared one rate-limit bucket (found
by a review of the public pages). Only the origins listed are allowed, each named exactly (no wildcard); no
credentials, and of the request headers only what the public sends (Content-Type, Idempotency-Key,
Accept-Language, If-None-Match): a staff token (Authorization) is never allowed cross-origin, so staff routes stay reachable
from Levee's own pages only. Answers to allowed origins name the headers a form needs to read (Location,
Retry-After, the replay header, ETag), 503s included (this middleware is the outermost), and every answer in
scope says Vary: Origin, with an Origin or without, so a shared cache keeps them apart. Unset, nothing changes.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from aiohttp import web
from aiohttp.typedefs import Handler

from services.api import keys
from services.api.idempotency import REPLAYED
from services.api.problems import Problem, logged

SCOPE = ("/api/", "/open311/")
METHODS = ("GET", "HEAD", "POST")
HEADERS = ("content-type", "idempotency-key", "accept-language", "if-none-match")
EXPOSED = ("Location", "Retry-After", REPLAYED, "ETag")
MAX_AGE_SECONDS = 600


@web.middleware
async def allow_listed_origins(request: web.Request, handler: Handler) -> web.StreamResponse:
    origin = request.headers.get("Origin")
    allowed = request.app[keys.SETTINGS].cors_origins
    if not allowed or not request.path.startswith(SCOPE):
        return await handler(request)
    if (
        origin is not None
        and request.method == "OPTIONS"
        and "Access-Control-Request-Method" in request.headers
    ):
        refused = _refused(request, origin, allowed)
        return logged(request, refused).response() if refused else _preflight(origin)
    # Without an Origin too: Vary: Origin, or a shared cache serves this copy to a listed origin's browser.
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect, or an answer already made a problem: the same headers
        _allow(exc.headers, origin, allowed)
        raise
    _allow(response.headers, origin, allowed)
    return response


def _allow(headers: MutableMapping[str, str], origin: str | None, allowed: tuple[str, ...]) -> None:
    if origin is not None and origin in allowed:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSED)
    headers["Vary"] = ", ".join(v for v in (headers.get("Vary"), "Origin") if v)


def _refused(request: web.Request, origin: str, allowed: tuple[str, ...]) -> Problem | None:
    """Why a preflight is refused (a 403 whose detail shows with curl or in the browser's network panel: a page
    is never given a failed preflight's body), or None."""
    method = request.headers["Access-Control-Request-Method"].upper()
    asked = {h.strip().lower() for h in request.headers.get("Access-Control-Request-Headers", "").split(",")}
    asked.discard("")
    if origin not in allowed:
        return Problem(403, "Origin not allowed", f"Cross-origin requests from {origin} are not allowed here "
                       "(LEVEE_CORS_ORIGINS lists the origins that are).", code="origin_not_allowed")  # fmt: skip
    if method not in METHODS or not asked <= set(HEADERS):
        refused = sorted(asked - set(HEADERS)) or [method]
        return Problem(403, "Not allowed cross-origin", f"Cross-origin requests may use {', '.join(METHODS)} "
                       f"with the headers {', '.join(HEADERS)} only, not {', '.join(refused)}.",
                       code="cors_not_allowed")  # fmt: skip
    return None


def _preflight(origin: str) -> web.Response:
    return web.Response(status=204, headers={
        "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": ", ".join(METHODS),
        "Access-Control-Allow-Headers": ", ".join(HEADERS), "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        "Vary": "Origin",
    })  # fmt: skip
