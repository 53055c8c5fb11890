"""Passwords for the NATS and PostgreSQL servers `levee up` embeds, kept in its data directory (mode 0600).

Both servers listen on loopback only, but loopback is every account's on the machine: with no password any
of them could publish forged events into the stream, or connect to PostgreSQL as its superuser, read every
complainant's key and mint itself a command token (found by a security review). Each password is made at
the first start and reused; a file removed is made anew at the next start and set on the server then.
NATS_URL / DATABASE_URL given in the environment bring their own credentials and none of this applies.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path

from services.settings import SettingsError
from services.up import secret_files

NATS_USER = "levee"
NATS_FILE = "nats_password"
POSTGRES_FILE = "postgres_password"
_URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")  # what secrets.token_urlsafe makes


def load_or_create(data_dir: Path, name: str) -> str:
    path = data_dir / name
    secret_files.forget_staged(path)
    if path.exists() and (value := secret_files.read(path)):
        if not _URL_SAFE.fullmatch(value):  # it goes into a URL unescaped, and into nats-server's config
            raise SettingsError(f"{path} must hold letters, digits, '-' or '_' only: delete it, and the next "
                                "start makes a new password and sets it on the server")  # fmt: skip
        return value
    path.unlink(missing_ok=True)  # emptied by hand: a new one, set on the server at this start
    return secret_files.create_once(path, secrets.token_urlsafe(24))


def nats_authorization(password: str) -> str:
    """nats-server's configuration block: one user, for every Levee process on this machine."""
    return f"authorization {{\n  user: {json.dumps(NATS_USER)}\n  password: {json.dumps(password)}\n}}\n"


def nats_url_with_user(url: str, password: str) -> str:
    """`nats://host:port` with the user and its password (token_urlsafe: nothing to escape)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{NATS_USER}:{password}@{rest}"
