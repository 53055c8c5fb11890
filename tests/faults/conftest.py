"""A whole Levee per test, on loopback, with every process owned by the test (see system.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.faults.system import System


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults: fault-injection scenarios (`make faults`)")


@pytest.fixture
async def system(tmp_path: Path) -> AsyncIterator[System]:
    levee = System(tmp_path)
    try:
        await levee.start()
        yield levee
    finally:
        await levee.close()
