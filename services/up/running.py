"""`<data dir>/running.json`: where a running `levee up` can be reached, for the CLI's other commands.

`levee token create`, `levee rebuild` and `levee drill` run beside `levee up` on the same machine; they find its
NATS, PostgreSQL and HTTP addresses here instead of making the user copy them from the log. The file may hold
a database password, so only its owner can read it; it is removed when `levee up` stops.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from services.settings import Settings

NAME = "running.json"


def write(settings: Settings) -> Path:
    path = settings.data_dir / NAME
    body = {"nats_url": settings.nats_url, "database_url": settings.database_url, "base_url": settings.base_url,
            "pid": os.getpid()}  # fmt: skip
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(body, out)
    return path


def remove(settings: Settings) -> None:
    (settings.data_dir / NAME).unlink(missing_ok=True)


def fill_in(settings: Settings) -> Settings:
    """Settings with NATS_URL / DATABASE_URL / the HTTP address taken from a running `levee up` when unset."""
    path = settings.data_dir / NAME
    if not path.exists() or (settings.nats_url and settings.database_url):
        return settings
    found = json.loads(path.read_text())
    try:
        os.kill(int(found["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return settings  # left behind by a launcher that is gone
    host, _, port = found["base_url"].removeprefix("http://").rpartition(":")
    return settings.replace(
        nats_url=settings.nats_url or found["nats_url"],
        database_url=settings.database_url or found["database_url"],
        http_host=host.strip("[]"),
        http_port=int(port),
    )
