"""`levee token create --role ROLE --name NAME`: mint a staff API token and print it, alone, on stdout.
`levee token list`: every token's id, role, dates and name (never the token or its hash).
`levee token revoke TOKEN_ID`: the running API refuses the token at once (see services.api.tokens).

The token is shown once and only its SHA-256 hash is stored, so a lost token is replaced, not recovered.
Logs (stderr) name the token's public id and role, never the token. Runs against DATABASE_URL: with
`levee up`, its `levee_ready` log line gives the embedded PostgreSQL's URL as `postgres`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import asyncpg
import structlog

from services.api.tokens import PREFIX, RoleError, TokenStore, check_name, check_role
from services.settings import Settings, SettingsError

log = structlog.get_logger(__name__)


def add_parser(commands: Any) -> None:
    """`commands` is the `levee` parser's subparsers object."""
    token = commands.add_parser("token", help="manage staff API tokens")
    actions = token.add_subparsers(required=True, metavar="ACTION")
    create = actions.add_parser("create", help="mint a token and print it on stdout (shown only once)")
    create.add_argument("--role", required=True, help="operator, command, press or department:<code>")
    # dest is not "name": `levee serve NAME` already uses args.name for the service's name.
    create.add_argument("--name", dest="holder", required=True, help='who holds it, e.g. "Water duty desk"')
    create.set_defaults(command=_create)
    listing = actions.add_parser("list", help="every token: id, role, created, revoked, name")
    listing.set_defaults(command=_list)
    revoke = actions.add_parser("revoke", help="revoke a token by its id (tok_...): refused at once")
    revoke.add_argument("token_id", metavar="TOKEN_ID", help="the id `levee token list` shows, not the token")
    revoke.set_defaults(command=_revoke)


async def _create(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return await create_token(settings, role=args.role, name=args.holder)


async def _list(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return await list_tokens(settings)


async def _revoke(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return await revoke_token(settings, args.token_id)


async def list_tokens(settings: Settings, *, out: TextIO | None = None) -> int:
    async with _store(settings, "list") as store:
        records = await store.records()
    stream = out or sys.stdout
    stream.write(f"{'TOKEN_ID':<16}  {'ROLE':<24}  {'CREATED':<20}  {'REVOKED':<20}  NAME\n")
    for r in records:
        revoked = _when(r.revoked_at) if r.revoked_at else "-"
        stream.write(f"{r.token_id:<16}  {r.role:<24}  {_when(r.created_at):<20}  {revoked:<20}  {r.name}\n")
    stream.flush()
    return 0


async def revoke_token(settings: Settings, token_id: str) -> int:
    """0 once revoked; 1 when no live token has this id (unknown, or revoked already), or when given the token
    itself: it is not logged, and the operator is told to name its id (`levee token list`)."""
    if token_id.startswith(PREFIX):
        log.error("token_not_revoked", reason="that is a token, not its id: give the tok_... id `levee token list` "
                  "shows (the token itself is never written down)")  # fmt: skip
        return 1
    async with _store(settings, "revoke") as store:
        revoked = await store.revoke(token_id)
    if not revoked:
        log.error("token_not_revoked", token_id=token_id, reason="no live token has this id")
        return 1
    return 0


@contextlib.asynccontextmanager
async def _store(settings: Settings, action: str) -> AsyncIterator[TokenStore]:
    if settings.database_url is None:
        raise SettingsError(f"`levee token {action}` needs DATABASE_URL (levee up logs it as `postgres`)")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1, timeout=10.0)
    try:
        yield TokenStore(pool)
    finally:
        await pool.close()


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def create_token(settings: Settings, *, role: str, name: str, out: TextIO | None = None) -> int:
    try:
        check_role(role)
        check_name(name)
    except (RoleError, ValueError) as exc:
        log.error("token_not_created", error=str(exc))
        return 2
    async with _store(settings, "create") as store:
        token, record = await store.create(role, name)
    # The only place the secret ever goes: this process's stdout, for the operator to hand over.
    stream = out or sys.stdout
    stream.write(token + "\n")
    stream.flush()
    log.info("token_printed", token_id=record.token_id, role=record.role)
    return 0
