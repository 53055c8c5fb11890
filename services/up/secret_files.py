"""Secrets `levee up` keeps in its data directory: each made once, readable by its owner only, reused after.

A file is written whole under a name of its own, then linked into place: two launchers on one fresh data
directory cannot both write one (the second link fails and it reads the first's), and a crash never leaves an
empty one behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def create_once(path: Path, value: str) -> str:
    """Write `value` to `path` unless it exists; return what `path` holds (another launcher's, if it won)."""
    fd, staged_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600, a name of its own
    staged = Path(staged_name)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(value + "\n")
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(staged, path)
        except FileExistsError:
            return read(path)  # another launcher won: its value is the one
    finally:
        staged.unlink(missing_ok=True)
    _sync_directory(path.parent)
    return read(path)


def forget_staged(path: Path) -> None:
    """Remove what a start that crashed while writing `path` left beside it."""
    for staged in path.parent.glob(f".{path.name}.*"):
        staged.unlink(missing_ok=True)


def read(path: Path) -> str:
    return path.read_text().strip()


def _sync_directory(directory: Path) -> None:
    """The new name survives a power cut too, not only the bytes."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
