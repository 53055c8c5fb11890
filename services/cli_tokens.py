"""`levee token create --role ROLE --name NAME`: mint a staff API token and print it, alone, on stdout.

The token is shown once and only its SHA-256 hash is stored, so a lost token is replaced, not recovered.
Logs (stderr) name the token's public id and role, never the token. Runs against DATABASE_URL: with
`levee up`, its `levee_ready` log line gives the embedded PostgreSQL's URL as `postgres`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import asyncpg
import structlog

from services.api.tokens import RoleError, TokenStore, check_name, check_role
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


async def _create(settings: Settings, args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    return await create_token(settings, role=args.role, name=args.holder)


async def create_token(settings: Settings, *, role: str, name: str, out: TextIO | None = None) -> int:
    try:
        check_role(role)
        check_name(name)
    except (RoleError, ValueError) as exc:
        log.error("token_not_created", error=str(exc))
        return 2
    if settings.database_url is None:
        raise SettingsError("`levee token create` needs DATABASE_URL (levee up logs it as `postgres`)")
    pool = await asyncpg.create_pool(settings.database_url, min_size=1, max_size=1, timeout=10.0)
    try:
        token, record = await TokenStore(pool).create(role, name)
    finally:
        await pool.close()
    # The only place the secret ever goes: this process's stdout, for the operator to hand over.
    stream = out or sys.stdout
    stream.write(token + "\n")
    stream.flush()
    log.info("token_printed", token_id=record.token_id, role=record.role)
    return 0
