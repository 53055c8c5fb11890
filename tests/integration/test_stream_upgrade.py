"""An upgrade that adds a subject to the stream, on the shipped nats-server config with its per-service users.

No service's user may update the stream, and nats-server answers a forbidden request with nothing at all (only
the client's error callback hears of it). So a service meeting an older stream stops quickly with an error that
names the missing subjects and the admin step, and `levee stream upgrade`, run as admin, adds them.
"""

from __future__ import annotations

import asyncio
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from events.store.stream import UPDATE_SECONDS, UPGRADE_COMMAND, StreamNeedsUpgrade, ensure_stream
from services.cli import _parser
from services.cli_stream import _upgrade, upgrade_stream
from services.embedded.nats_permissions import password_variable
from services.embedded.nats_server import NatsServer
from services.settings import Settings
from tests.integration.test_deploy_nats_users import ShippedConfigServer
from tests.integration.test_nats_permissions import PASSWORDS, SPEC, as_user

ADDED_LATER = [f"{SPEC.prefix}.snap.>", f"{SPEC.prefix}.code.>"]  # in the order of SPEC.subjects
SERVICES = ["api", "triage", "dispatch", "notices", "projector"]


@pytest.fixture
def shipped_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[NatsServer]:
    for user, password in PASSWORDS.items():
        monkeypatch.setenv(password_variable(user), password)
    server = ShippedConfigServer(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


def url_of(server: NatsServer, user: str) -> str:
    return server.url.replace("nats://", f"nats://{user}:{PASSWORDS[user]}@")


async def stream_config(server: NatsServer) -> dict[str, Any]:
    admin = await as_user(server, "admin")
    try:
        reply = await admin.nc.request(f"$JS.API.STREAM.INFO.{SPEC.name}", b"", timeout=5)
    finally:
        await admin.nc.close()
    config: dict[str, Any] = json.loads(reply.data)["config"]
    return config


@pytest.fixture
async def old_stream(shipped_server: NatsServer) -> NatsServer:
    """The stream as an older Levee created it: every guarantee, but not the subjects added since."""
    assert set(ADDED_LATER) < set(SPEC.subjects)
    old = {**SPEC.config(), "subjects": [s for s in SPEC.subjects if s not in ADDED_LATER]}
    admin = await as_user(shipped_server, "admin")
    try:
        reply = await admin.nc.request(
            f"$JS.API.STREAM.CREATE.{SPEC.name}", json.dumps(old).encode(), timeout=5
        )
    finally:
        await admin.nc.close()
    assert "error" not in json.loads(reply.data), reply.data
    return shipped_server


async def meet_the_stream(server: NatsServer, user: str) -> tuple[BaseException | None, float]:
    """What `user`'s service gets from ensure_stream at start, and after how long (the API asks with 2 s)."""
    store = await as_user(server, user)
    started = time.monotonic()
    try:
        await ensure_stream(store.nc, SPEC, timeout=2.0 if user == "api" else 10.0)
    except Exception as exc:
        return exc, time.monotonic() - started
    finally:
        await store.nc.close()
    return None, time.monotonic() - started


async def test_every_service_meeting_an_old_stream_stops_quickly_naming_the_subjects_and_the_fix(
    old_stream: NatsServer,
) -> None:
    async with asyncio.timeout(UPDATE_SECONDS + 10):
        met = await asyncio.gather(*(meet_the_stream(old_stream, user) for user in SERVICES))
    for user, (error, seconds) in zip(SERVICES, met, strict=True):
        assert isinstance(error, StreamNeedsUpgrade), (user, error)
        assert error.missing == ADDED_LATER
        assert all(subject in str(error) for subject in ADDED_LATER)
        assert UPGRADE_COMMAND in str(error) and "admin" in str(error)
        assert seconds < UPDATE_SECONDS + 2, (user, seconds)
    assert (await stream_config(old_stream))["subjects"] == [s for s in SPEC.subjects if s not in ADDED_LATER]


async def test_levee_stream_upgrade_as_admin_adds_the_subjects_and_keeps_the_rest(
    old_stream: NatsServer,
) -> None:
    before = await stream_config(old_stream)
    said = io.StringIO()
    assert await upgrade_stream(Settings(nats_url=url_of(old_stream, "admin")), out=said) == 0
    assert all(subject in said.getvalue() for subject in ADDED_LATER), said.getvalue()
    after = await stream_config(old_stream)
    assert sorted(after["subjects"]) == sorted(SPEC.subjects)
    assert {k: v for k, v in after.items() if k != "subjects"} == {
        k: v for k, v in before.items() if k != "subjects"
    }
    for user in SERVICES:  # and every service starts again
        error, _ = await meet_the_stream(old_stream, user)
        assert error is None, (user, error)
    again = io.StringIO()
    assert await upgrade_stream(Settings(nats_url=url_of(old_stream, "admin")), out=again) == 0
    assert "nothing to do" in again.getvalue()


async def test_levee_stream_upgrade_as_a_service_user_says_to_use_the_admin(old_stream: NatsServer) -> None:
    with structlog.testing.capture_logs() as logs:
        async with asyncio.timeout(60):
            code = await upgrade_stream(
                Settings(nats_url=url_of(old_stream, "triage")), out=io.StringIO(), timeout=3.0
            )
    assert code == 1
    [refused] = [line for line in logs if line["event"] == "stream_not_upgraded"]
    assert refused["missing"] == ADDED_LATER and "admin" in refused["reason"]
    assert PASSWORDS["triage"] not in str(refused)
    assert sorted((await stream_config(old_stream))["subjects"]) != sorted(SPEC.subjects)


async def test_levee_stream_upgrade_on_no_stream_leaves_creating_it_to_the_services(
    shipped_server: NatsServer,
) -> None:
    said = io.StringIO()
    assert await upgrade_stream(Settings(nats_url=url_of(shipped_server, "admin")), out=said) == 0
    assert "does not exist yet" in said.getvalue()


def test_the_cli_has_the_command() -> None:
    assert _parser().parse_args(["stream", "upgrade"]).command is _upgrade
