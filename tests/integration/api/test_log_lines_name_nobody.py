"""With logging configured as deployed, no line carries a staff token's name.

The suite's log checks use structlog.testing.capture_logs(), which drops merge_contextvars, and the operator
console's capture configures JSONRenderer alone: what the auth middleware binds to the context is never seen.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import asyncpg
import pytest
import structlog

from projections.migrate import migrate
from services.api import auth
from services.logging_setup import configure_logging
from services.settings import Settings
from tests.integration.api.conftest import MakeClient

HOLDER = "Wenjun Falkirk-Oyelaran"  # a person's name, as a token's name may be


@pytest.fixture
def deployed_logs() -> Iterator[io.StringIO]:
    out = io.StringIO()
    previous = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging(Settings.from_env({"LEVEE_SERVICE": "api"}), stream=out)
    # As deployed, but no logger keeps this configuration once the test is over (the other tests capture theirs).
    structlog.configure(cache_logger_on_first_use=False)
    try:
        yield out
    finally:
        structlog.configure(**previous)
        structlog.contextvars.clear_contextvars()
        root.handlers[:], root.level = handlers, level


async def test_no_log_line_carries_the_token_holders_name(
    make_client: MakeClient, deployed_logs: io.StringIO, database_url: str
) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await migrate(conn)  # the read models caller history reads
    finally:
        await conn.close()
    client = await make_client()
    token, _ = await client.app[auth.TOKENS].create("operator", HOLDER)
    headers = {"Authorization": f"Bearer {token}"}
    response = await client.post("/api/v1/operator/caller-history", json={"phone": "+86 139 1234 5678"},
                                 headers=headers)  # fmt: skip
    assert response.status == 200, await response.text()
    logged = deployed_logs.getvalue()
    assert "caller_history_looked_up" in logged, "a handler's own line was captured"
    assert "Falkirk" not in logged, [line for line in logged.splitlines() if "Falkirk" in line][:2]
