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
    text = _packaged_reference()
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


# A category a release adds, with the reference data and the triage rules (terms) for it. Every service runs
# the release except triage, still on the packaged files: it cannot validate such a complaint and dead-letters
# it, until it is deployed with NEW_RELEASE (its variables, naming files in the test's directory).
NEW_CATEGORY = "sinkhole"
NEW_RELEASE = {"LEVEE_REFERENCE": "reference-new.toml", "LEVEE_TRIAGE_RULES": "triage-rules-new.toml"}
_NEW_CATEGORY_TABLE = f"""[[categories]]
code = "{NEW_CATEGORY}"
name_en = "Sinkhole"
name_zh = "地面塌陷"
service_code = "199"
group = "emergency_event"
default_department = "roads"
description = "The ground gave way under a road or a building."

"""
_NEW_CATEGORY_TERMS = f"""

[categories.{NEW_CATEGORY}]
base = 30
strong = ["地面塌陷", "地陷", "sinkhole", "caved in", "(ground|pavement|road) gave way"]
weak = ["hole"]
"""


@pytest.fixture
async def system_with_triage_behind(tmp_path: Path) -> AsyncIterator[System]:
    """Every service on the release with NEW_CATEGORY but triage, on copies of the packaged files
    (`system.services["triage"].env` takes NEW_RELEASE at its next start)."""
    old_reference, old_rules = tmp_path / "reference-old.toml", tmp_path / "triage-rules-old.toml"
    old_reference.write_text(_packaged_reference(), encoding="utf-8")
    old_rules.write_text(_packaged_rules(), encoding="utf-8")
    text, n = re.subn(r"^\[\[departments\]\]$", _NEW_CATEGORY_TABLE + "[[departments]]", _packaged_reference(),
                      count=1, flags=re.MULTILINE)  # fmt: skip
    assert n == 1, "no [[departments]] table in the packaged reference data"
    reference, rules = (tmp_path / NEW_RELEASE[k] for k in ("LEVEE_REFERENCE", "LEVEE_TRIAGE_RULES"))
    reference.write_text(text, encoding="utf-8")
    rules.write_text(_packaged_rules() + _NEW_CATEGORY_TERMS, encoding="utf-8")
    behind = {"LEVEE_REFERENCE": str(old_reference), "LEVEE_TRIAGE_RULES": str(old_rules)}
    levee = System(tmp_path, reference_file=reference, triage_rules=rules, service_env={"triage": behind})
    async with _running(levee) as running:
        yield running


def _packaged_rules() -> str:
    return resources.files("services.triage").joinpath("rules.toml").read_text(encoding="utf-8")


def _packaged_reference() -> str:
    return resources.files("events.reference").joinpath("levee.toml").read_text(encoding="utf-8")


@contextlib.asynccontextmanager
async def _running(levee: System) -> AsyncIterator[System]:
    try:
        await levee.start()
        yield levee
    finally:
        await levee.close()
