"""The secret that keys the hashes of citizens' contact details, kept in the data directory.

Generated once, on the first `levee up` of a data directory, and reused after: a new secret would make
every stored contact hash unmatchable. LEVEE_CONTACT_SECRET, when set, wins and nothing is written.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

FILE_NAME = "contact_secret"


def load_or_create(data_dir: Path) -> bytes:
    path = data_dir / FILE_NAME
    try:
        # O_EXCL: two launchers on one fresh data directory cannot both write a secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip().encode()
    value = secrets.token_hex(32)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
        out.flush()
        os.fsync(out.fileno())
    log.info("contact_secret_created", path=str(path))
    return value.encode()
