"""Real infrastructure for the suite: nats-server with JetStream and PostgreSQL on free loopback ports.

`NATS_URL` / `DATABASE_URL` point the suite at servers that already run; otherwise each test session starts
its own in a temporary directory. Nothing here mocks either server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from nats.aio.client import Client as NATS

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.read_window import SIDE_READER_WINDOW
from events.store.stream import StreamSpec, ensure_stream
from services.embedded.nats_server import NatsServer
from services.embedded.postgres_server import PostgresServer


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    server = NatsServer(tmp_path_factory.mktemp("nats")).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def own_nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own, for tests that kill and restart it."""
    server = NatsServer(tmp_path / "nats").start()
    try:
        yield server
    finally:
        server.stop()


SMALL_JETSTREAM = "1MB"  # filled in seconds: about 700 complaints


@pytest.fixture
def small_nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A nats-server of this test's own whose JetStream holds SMALL_JETSTREAM: a full event store."""
    server = NatsServer(tmp_path / "nats", max_file_store=SMALL_JETSTREAM).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    server = PostgresServer(tmp_path_factory.mktemp("pg") / "data").start()
    try:
        yield server.dsn
    finally:
        server.stop()


@pytest.fixture
async def database_url(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty database for this test on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base, _, _ = postgres_dsn.rpartition("/")
    yield f"{base}/{name}"
    admin = await asyncpg.connect(postgres_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[NATS]:
    client = await connect_nats(nats_url, name="levee-test")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def stream_spec() -> StreamSpec:
    """A fresh stream per test: a fresh name is a fresh, separate store."""
    return StreamSpec(name=f"T_{uuid.uuid4().hex[:12].upper()}")


@pytest.fixture
async def store(nc: NATS, stream_spec: StreamSpec) -> JetStreamEventStore:
    await ensure_stream(nc, stream_spec)
    return JetStreamEventStore(nc, stream_spec)


@pytest.fixture
async def windowed_store(nc: NATS, stream_spec: StreamSpec) -> JetStreamEventStore:
    """A store as `levee serve dispatch` and `levee serve notices` open it: with the read window their second
    reader takes from (events/store/read_window.py)."""
    await ensure_stream(nc, stream_spec)
    return JetStreamEventStore(nc, stream_spec, read_window=SIDE_READER_WINDOW)
