"""The command board says so when no complaint can be received: the event store full, then room again.

Command staff watch the board, not /healthz: at 3 a.m. they must see that intake has stopped (and switch to
their paper forms) without an engineer telling them. The stack here runs on a nats-server of its own whose
JetStream holds 1 MB; the complaints fill it, the board shows the banner, and after nats-server comes back
with room the next complaint is stored and the banner goes.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from services.embedded.nats_server import NatsServer
from tests.browser.conftest import Stack, running_stack
from tests.browser.test_board_pages import TRAPPED, ready, sign_in

expect = pytest.importorskip(
    "playwright.async_api", reason="Playwright for Python is a dev dependency"
).expect
MOST_REQUESTS = 2000  # about 1.5 KB a complaint: 1 MB is full long before
BOUND = 60.0


@pytest.fixture
async def small_stack(
    small_nats_server: NatsServer, database_url: str, stream_spec: Any
) -> AsyncIterator[tuple[Stack, NatsServer]]:
    async with running_stack(small_nats_server.url, database_url, stream_spec.name) as running:
        yield running, small_nats_server


async def complain_until(stack: Stack, operator: str, answer: str) -> None:
    """Post complaints as the hotline (staff are not rate-limited) until one is answered `answer`: "201", or
    a 503's problem code."""
    async with aiohttp.ClientSession(stack.url) as http:
        deadline = time.monotonic() + BOUND
        for _ in range(MOST_REQUESTS):
            headers = {"Idempotency-Key": uuid.uuid4().hex, "Authorization": f"Bearer {operator}"}
            async with http.post("/api/v1/complaints", json=TRAPPED, headers=headers) as response:
                assert response.status in (201, 503), (response.status, await response.text())
                body = await response.json(content_type=None)
                if answer == ("201" if response.status == 201 else body.get("code")):
                    return
            assert time.monotonic() < deadline, f"no {answer} within {BOUND:g} s"
    pytest.fail(f"no {answer} in {MOST_REQUESTS} complaints")


def is_healthz(response: Any) -> bool:
    return str(response.url).endswith("/healthz")


async def test_the_board_says_when_the_event_store_is_full_and_when_it_takes_complaints_again(
    small_stack: tuple[Stack, NatsServer], browser: Any, shots: Path
) -> None:
    stack, nats = small_stack
    command, operator = await stack.token("command"), await stack.token("operator")
    await ready(stack, command)
    board = await browser.new_page(viewport={"width": 1400, "height": 900})
    async with board.expect_response(is_healthz):  # the banner is hidden because /healthz said so
        await sign_in(board, f"{stack.url}/board", command)
    await expect(board.locator("#totals")).not_to_be_empty(timeout=10_000)
    banner = board.locator("#intake")
    await expect(banner).to_be_hidden()

    await complain_until(stack, operator, "event_store_full")
    async with board.expect_response(is_healthz):
        await board.reload()
    await expect(banner).to_be_visible(timeout=10_000)
    said = await banner.text_content() or ""
    assert "事件库已满" in said and "The event store is full: no new complaint can be received" in said
    assert "section 12" in said
    # The server's own words, with their UTC times, are for the engineer: in the tooltip, not the banner.
    assert "refusing writes" not in said
    await expect(banner).to_have_attribute("title", re.compile(r"^refusing writes"))
    await board.screenshot(path=shots / "01-event-store-full.png")

    await asyncio.to_thread(nats.stop)  # an operator adds room and restarts nats-server
    nats.max_file_store = "64MB"
    await asyncio.to_thread(nats.start)
    await complain_until(stack, operator, "201")
    # No reload: the open board asks again by itself (its 15 s refetch, or the new complaint's commit).
    await expect(banner).to_be_hidden(timeout=30_000)
    await board.screenshot(path=shots / "02-taking-complaints-again.png")
    await board.close()
