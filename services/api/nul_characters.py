"""A NUL character (%00) in a request's path or query, refused before any handler.

PostgreSQL's text cannot hold one: a tracking code, a filter or an Open311 request id holding %00 reached a
query and failed inside asyncpg, a plain-text 500 with a traceback logged at error level, on public routes too
(found by a security review). Bodies are checked field by field where they are read (control characters are
refused there); the path and the query are checked here, once for every route. A path holding one names
nothing that can exist: 404, as any unknown id (a page's path is looked up by its script, through the API).
A query value holding one is a wrong value: 422 naming the parameter (400 under /open311/v2/, the spec's
error array, as its other refusals).
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from services.api.open311_format import BASE, Open311Error
from services.api.problems import FieldError, Problem, invalid

NUL = "\x00"
MESSAGE = "must not contain a NUL character (%00)"


@web.middleware
async def refuse_nul(request: web.Request, handler: Handler) -> web.StreamResponse:
    in_path = NUL in request.path and request.path.startswith(("/api/", "/open311/"))  # pages look nothing up
    in_query = sorted({name if NUL not in name else "query" for name, value in request.query.items()
                       if NUL in name or NUL in value})  # fmt: skip
    if not in_path and not in_query:
        return await handler(request)
    if (request.path + "/").startswith(BASE + "/"):
        fmt = "xml" if request.path.endswith(".xml") else "json"
        if in_path:
            return Open311Error(404, f"not found: a path {MESSAGE}").response(fmt)
        first, *rest = (f"{name} {MESSAGE}" for name in in_query)
        return Open311Error(400, first, more=rest).response(fmt)
    if in_path:
        raise Problem(404, "Not found", f"Nothing is found at a path that holds a NUL character: it {MESSAGE}.",
                      code="not_found")  # fmt: skip
    raise invalid([FieldError(name, MESSAGE) for name in in_query])
