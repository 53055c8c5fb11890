"""A whole Levee per test, on loopback, with every process owned by the test (see system.py)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import pytest

from tests.faults.system import System

# Deadlines of seconds, not hours (minutes, as the reference file counts them): a drill of half a minute
# then misses some, so the deadline watcher escalates while services are being killed.
SHORT_DEADLINES = {"P1": (0.1, 0.5), "P2": (0.15, 0.6), "P3": (0.2, 0.8), "P4": (0.3, 1.0)}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault-injection scenarios (`make faults`)")


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    async with _running(System(tmp_path)) as levee:
        yield levee


@pytest.fixture
async def system_with_short_deadlines(tmp_path: Path) -> AsyncIterator[System]:
    """The packaged reference data with SHORT_DEADLINES, as a deployment's LEVEE_REFERENCE."""
    text = resources.files("events.reference").joinpath("levee.toml").read_text(encoding="utf-8")
    for level, (accept, resolve) in SHORT_DEADLINES.items():
        text, n = re.subn(
            rf"\[deadlines\.{level}\]\naccept_within_minutes = \d+\nresolve_within_minutes = \d+",
            f"[deadlines.{level}]\naccept_within_minutes = {accept}\nresolve_within_minutes = {resolve}",
            text,
        )
        assert n == 1, f"no [deadlines.{level}] table in the packaged reference data"
    reference = tmp_path / "reference.toml"
    reference.write_text(text, encoding="utf-8")
    async with _running(System(tmp_path, reference_file=reference)) as levee:
        yield levee


@contextlib.asynccontextmanager
async def _running(levee: System) -> AsyncIterator[System]:
    try:
        await levee.start()
        yield levee
    finally:
        await levee.close()
