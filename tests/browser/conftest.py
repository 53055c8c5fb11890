"""Browser tests: Debian's chromium driven by Playwright, against the real stack started in-process.

The browser is installed here when it is missing (apt-get, as root); the tests skip, saying why, only when
that install fails. Playwright's own browser download is never used: it cannot be fetched here.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from services.api import auth
from services.api.app import build_app
from services.embedded.ports import free_port
from services.settings import Settings
from tests.support.waiting import wait_until_async

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic",
]  # fmt: skip
CJK_FONT = "fonts-wqy-microhei"  # 1.6 MB; labels are Chinese and English side by side
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


def _has_chinese_font() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def _install(*packages: str) -> subprocess.CompletedProcess[str]:
    """`apt-get install -y`, with `apt-get update` first when the package lists are stale or missing."""
    result = _apt("install", "-y", *packages)
    if result.returncode != 0:
        _apt("update")
        result = _apt("install", "-y", *packages)
    return result


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium, installed now if it is not there yet, and a Chinese font for the screenshots."""
    can_install = shutil.which("apt-get") is not None and os.geteuid() == 0
    if not CHROMIUM.exists():
        if not can_install:
            pytest.skip(f"{CHROMIUM} is missing and cannot be installed here (needs apt-get as root)")
        result = _install("chromium")
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.skip(f"`apt-get install -y chromium` failed ({result.returncode}): {result.stderr[-500:]}")
    if can_install and not _has_chinese_font():
        # Best effort: without it the Chinese labels are boxes in the screenshots (the DOM is the same).
        _install("--no-install-recommends", CJK_FONT)
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip(
        "playwright.async_api", reason="Playwright for Python is a dev dependency: pip install -e '.[dev]'"
    )
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """This test's screenshot folder (test-output/ is git-ignored), emptied first."""
    folder = OUTPUT / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@dataclass
class Stack:
    """The API on a fixed port and the projector, both in this process and loop."""

    settings: Settings
    runner: web.AppRunner | None = None
    projector: asyncio.Task[None] | None = None
    stop_projector: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    async def start_api(self) -> None:
        self.runner = web.AppRunner(build_app(self.settings), access_log=None, handle_signals=False)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.settings.http_port).start()

    async def stop_api(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def token(self, role: str) -> str:
        assert self.runner is not None
        secret, _ = await self.runner.app[auth.TOKENS].create(role, f"browser test {role}")
        return secret


@asynccontextmanager
async def running_stack(nats_url: str, database_url: str, stream: str) -> AsyncIterator[Stack]:
    """The API and the projector on this NATS, database and stream, stopped on the way out."""
    from projections.app import run as run_projector

    settings = Settings(
        nats_url=nats_url, database_url=database_url, nats_stream=stream, http_port=free_port(),
        contact_hash_secret=b"browser-tests-secret-0123456789abcdef",
    )  # fmt: skip
    running = Stack(settings)
    running.projector = asyncio.create_task(run_projector(settings, running.stop_projector), name="projector")
    try:
        await running.start_api()
        yield running
    finally:
        await running.stop_api()
        running.stop_projector.set()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(running.projector, 10)


@pytest.fixture
async def stack(nats_url: str, database_url: str, stream_spec: Any) -> AsyncIterator[Stack]:
    async with running_stack(nats_url, database_url, stream_spec.name) as running:
        yield running


async def box_of(locator: Any, what: str) -> Any:
    """Where `locator` is on the page: a live page may redraw it between finding and measuring it."""
    boxes: list[Any] = []

    async def measured() -> bool:
        boxes.append(await locator.bounding_box())
        return boxes[-1] is not None

    await wait_until_async(measured, what)
    return boxes[-1]


def problem(status: int, code: str, detail: str, **extensions: Any) -> dict[str, Any]:
    """What the API answers (services/api/problems.py, app.py): RFC 9457 JSON with `code`, Retry-After on a 503."""
    body = {"type": f"https://levee.example/problems/{code}", "title": code, "status": status,
            "detail": detail, "code": code, **extensions}  # fmt: skip
    return {"status": status, "content_type": "application/problem+json", "body": json.dumps(body),
            "headers": {"Retry-After": "5", "Cache-Control": "no-store"}}  # fmt: skip
