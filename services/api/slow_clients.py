"""Clients that send slowly: a request's headers and its body must each arrive in bounded time.

Otherwise a connection that trickles its request holds a socket and a task for as long as it likes, and a
few thousand of them (one laptop's worth) use up the process's file descriptors: nobody else is served.
An ingress's own timeouts come first where there is one; these hold where there is none.

- Headers: aiohttp closes a connection still waiting for a whole request when its keep-alive timer runs out.
  The timer starts with the connection and after each response, and bytes arriving do not reset it, so
  `keepalive_timeout` (LEVEE_HTTP_IDLE_SECONDS, set by `app.run`) bounds the headers as well as idleness.
  (aiohttp's own default is an hour.)
- Body: `body_deadline` reads it, within LEVEE_HTTP_BODY_SECONDS of the headers, before any handler runs;
  late, the answer is 408 and the connection is closed. Handlers' own reads then return the bytes read.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from services.api.open311 import BASE as OPEN311
from services.api.open311 import Open311Error
from services.api.problems import Problem


def body_deadline(seconds: float) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            open311 = request.path.startswith(OPEN311)  # its errors are the spec's arrays, not problems
            try:
                async with asyncio.timeout(seconds):
                    await request.read()  # over client_max_size: 413, as a handler's read would give
            except TimeoutError:
                detail = f"The request's body did not arrive within {seconds:g} s of its headers; nothing was done."
                response = (
                    Open311Error(408, detail).response() if open311
                    else Problem(408, "Request timeout", detail, code="body_timeout").response()
                )  # fmt: skip
                response.force_close()  # the rest of the body may still be on its way
                return response
            except web.HTTPRequestEntityTooLarge as exc:
                if open311:
                    return Open311Error(413, exc.text or "request body too large").response()
                raise
        return await handler(request)

    return middleware
