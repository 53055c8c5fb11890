"""Who is asking, and may they: the bearer-token middleware and the role and object checks handlers call.

Every request gets `request[PRINCIPAL]`: the public when it carries no token, the token's holder otherwise.
A token that is malformed, unknown or revoked is refused (401) on every route, public ones included: a
client that sends a wrong token has a bug, and answering it as the public would hide that.

Object-level policy: department staff act only on cases currently dispatched to their department. A case
held by another department answers 403 with a clear message rather than 404: complaint ids are random UUIDs,
so the 403 reveals nothing guessable, and a duty desk whose case was just re-dispatched away needs to be told
why its command failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable

import structlog
from aiohttp import web

from services.api import keys
from services.api.principal import PRINCIPAL, PUBLIC, Principal
from services.api.problems import Problem, logged
from services.api.tokens import TokenStore

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TOKENS = web.AppKey("api_tokens", TokenStore)
CHALLENGE = 'Bearer realm="levee"'


async def token_store(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the token store over the API's pool (appended after the pool's own context), and the
    listener that makes a revocation (from any process) refuse the token here at once."""
    store = app[TOKENS] = TokenStore(app[keys.PG_POOL])
    database_url = app[keys.SETTINGS].database_url
    assert database_url is not None  # build_app checks it
    watcher = asyncio.create_task(store.watch_revocations(database_url), name="token-revocations")
    try:
        yield
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        principal = await _principal(request)
    except Problem as problem:  # outside `problems`: the log line names it here (a revoked token's tries)
        return logged(request, problem).response()
    request[PRINCIPAL] = principal
    # bind and reset, not bound_contextvars(): that one copies the whole context twice per request.
    bound = structlog.contextvars.bind_contextvars(role=principal.role, token_id=principal.token_id)
    try:
        return await handler(request)
    finally:
        structlog.contextvars.reset_contextvars(**bound)


def bearer_token(request: web.Request) -> str | None:
    """The token of `Authorization: Bearer <token>`; None without the header; "" when it is malformed."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def still_valid(request: web.Request) -> bool:
    """Whether the request's token still stands (a long-lived stream asks now and then): False once revoked;
    True when PostgreSQL cannot say, so an outage does not end every open board."""
    token = bearer_token(request)
    if not token:
        return True  # no token: nothing to revoke
    try:
        return await request.app[TOKENS].lookup(token) is not None
    except keys.PG_DOWN:
        return True


async def _principal(request: web.Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        return PUBLIC
    if not token:
        raise _unauthenticated("Send the token as `Authorization: Bearer <token>`.", "invalid_request")
    try:
        principal = await request.app[TOKENS].lookup(token)
    except keys.PG_DOWN as exc:
        raise keys.DependencyUnavailable(
            "PostgreSQL", f"cannot check the token: {type(exc).__name__}"
        ) from exc
    if principal is None:
        log.info("token_refused")
        raise _unauthenticated("The token is not valid or was revoked.", "invalid_token")
    return principal


def _unauthenticated(detail: str, error: str | None = None) -> Problem:
    challenge = f'{CHALLENGE}, error="{error}"' if error else CHALLENGE
    return Problem(
        401,
        "Authentication required",
        detail,
        code="unauthenticated",
        headers={"WWW-Authenticate": challenge},
    )


def role_names(kinds: tuple[str, ...]) -> list[str]:
    return ["department:<code>" if kind == "department" else kind for kind in kinds]


def require_role(principal: Principal, kinds: tuple[str, ...]) -> None:
    """401 for the public on a staff endpoint, 403 naming the roles that may for a staff member who may not."""
    needed = " or ".join(role_names(kinds))
    if principal.is_public:
        raise _unauthenticated(f"This endpoint is for {needed} staff; send `Authorization: Bearer <token>`.")
    if principal.kind not in kinds:
        raise Problem(
            403, "Not allowed for your role", f"This needs the {needed} role; your token is {principal.role}.",
            code="role_not_allowed", extensions={"required_roles": role_names(kinds)},
        )  # fmt: skip


def requires(*kinds: str) -> Callable[[Handler], Handler]:
    """Decorator form of `require_role` for plain handlers."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            require_role(request[PRINCIPAL], kinds)
            return await handler(request)

        return checked

    return wrap


def require_holding_department(principal: Principal, held_by: str | None) -> None:
    """Department staff only touch a case that is with their department now (see the module's policy)."""
    if principal.department is not None and principal.department != held_by:
        raise Problem(
            403, "Not your department's case",
            f"This complaint is not dispatched to {principal.department}; only the department holding it may act.",
            code="not_your_department",
        )  # fmt: skip
