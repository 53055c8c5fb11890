"""Clients that send slowly: a request's headers and its body must each arrive in bounded time.

Otherwise a connection that trickles its request holds a socket and a task for as long as it likes, and a
few thousand of them (one laptop's worth) use up the process's file descriptors: nobody else is served.
An ingress's own timeouts come first where there is one; these hold where there is none.

- Headers: aiohttp closes a connection still waiting for a whole request when its keep-alive timer runs out.
  The timer starts with the connection and after each response, and bytes arriving do not reset it, so
  `keepalive_timeout` (LEVEE_HTTP_IDLE_SECONDS, set by `app.run`) bounds the headers as well as idleness.
  (aiohttp's own default is an hour.) A handler that is running (a live stream) is never cut off by it.
- Body: `body_deadline` reads it, within LEVEE_HTTP_BODY_SECONDS of the headers, before any handler runs;
  late, the answer is 408 and the connection is closed. Read here, it is kept by aiohttp: the handler's
  `read()`, `json()` or `post()` returns it. An Open311 form is parsed here too (a multipart parser reads
  the stream itself, which would then be empty), so a form that does not parse is a 400 in its array.
- A body over the size limit is refused here too (413), before it is read when its length says so.

A refusal here on a public intake route costs its sender a token of their rate limit, as the handler's own
refusals do: a flood of slow or oversized bodies is limited like a flood of complaints.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from services.api import ratelimit
from services.api.open311 import BASE as OPEN311
from services.api.open311 import FORM_TYPES, Open311Error
from services.api.problems import Problem

# Public intake: where a refusal is charged to the sender's address.
CHARGED = frozenset({"/api/v1/complaints", f"{OPEN311}/requests.json", f"{OPEN311}/requests.xml"})


def body_deadline(seconds: float) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            open311 = request.path.startswith(OPEN311)  # its errors are the spec's arrays, not problems
            limit = request.client_max_size
            if request.content_length is not None and request.content_length > limit:
                return _closing(_refuse(request, open311, 413, f"A request body is at most {limit} bytes."))
            try:
                async with asyncio.timeout(seconds):
                    if open311 and request.method == "POST" and request.content_type in FORM_TYPES:
                        await request.post()  # only Open311 takes forms; elsewhere the handler says 415
                    else:
                        await request.read()
            except TimeoutError:
                detail = f"The request's body did not arrive within {seconds:g} s of its headers; nothing was done."
                return _closing(_refuse(request, open311, 408, detail))
            except web.HTTPRequestEntityTooLarge:
                return _closing(_refuse(request, open311, 413, f"A request body is at most {limit} bytes."))
            except (ValueError, LookupError, RuntimeError) as exc:  # a form that does not parse: bytes that
                return _refuse(request, open311, 400, f"The form could not be read: {exc}")  # are not UTF-8,
        return await handler(request)  # an unknown charset or transfer encoding

    return middleware


_TITLES = {
    400: ("Malformed form", "malformed_form"),
    408: ("Request timeout", "body_timeout"),
    413: ("Body too large", "body_too_large"),
}


def _closing(response: web.Response) -> web.Response:
    """The rest of the body may still be on its way: the connection is not kept for another request."""
    response.force_close()
    return response


def _refuse(request: web.Request, open311: bool, status: int, detail: str) -> web.Response:
    limiter = request.app.get(ratelimit.LIMITER)
    if limiter is not None and request.method == "POST" and request.path in CHARGED:
        with contextlib.suppress(Problem):  # spent: a sender out of tokens hears 429 from the next one
            limiter.take(request)
    if open311:
        return Open311Error(status, detail).response("xml" if request.path.endswith(".xml") else "json")
    title, code = _TITLES[status]
    return Problem(status, title, detail, code=code).response()
