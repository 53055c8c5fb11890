"""The secret that keys the hashes of citizens' contact details, kept in the data directory.

Generated once, on the first `levee up` of a data directory, and reused after: a new secret would make
every stored contact hash unmatchable. `levee serve` reads it too, never writes one. LEVEE_CONTACT_SECRET, when
set, wins and nothing is written.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import structlog

from services.settings import SettingsError
from services.up import secret_files

log = structlog.get_logger(__name__)

FILE_NAME = "contact_secret"


def load_or_create(data_dir: Path) -> bytes:
    path = data_dir / FILE_NAME
    if path.exists():
        secret_files.forget_staged(path)  # left by a start that crashed while writing one
        return _read(path)
    # Data already here without its secret: restored from a backup that left the file out, most likely. A new
    # secret keys new hashes that match none stored: repeat callers and erasures by phone no longer find
    # earlier complaints. Said loudly, since it was said as a routine first start (found by a restore review).
    stores = sorted(name for name in ("nats", "postgres") if (data_dir / name).is_dir())
    made = secrets.token_hex(32)
    if secret_files.create_once(path, made) != made:
        return _read(path)  # another launcher made it first: its secret is the one, and it said so
    if stores:
        log.warning(
            "contact_secret_created_beside_existing_data", path=str(path), existing=stores,
            advice="if this data directory was restored, stop and restore its contact_secret too (or set "
            "LEVEE_CONTACT_SECRET): contact hashes made with the old secret match nothing made with this one",
        )  # fmt: skip
    else:
        log.info("contact_secret_created", path=str(path))
    return _read(path)


def load_existing(data_dir: Path) -> bytes | None:
    """The data directory's secret if a `levee up` made one, else None: `levee serve` reads it and never makes
    one, since a second secret would keep its hashes from matching the other processes'."""
    path = data_dir / FILE_NAME
    return _read(path) if path.exists() else None


def _read(path: Path) -> bytes:
    value = secret_files.read(path)
    if not value:
        raise SettingsError(
            f"{path} is empty (written by a crashed start of an older version?). If no complaint was ever "
            "stored in this data directory, delete the file; else restore it from a backup, or set "
            "LEVEE_CONTACT_SECRET to the secret it held: contact hashes are keyed with it."
        )
    return value.encode()
