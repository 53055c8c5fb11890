"""Per-service NATS users: each process can do its job and nothing more."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats.errors
import nats.js.errors
import pytest
from structlog.testing import capture_logs

from events.store import JetStreamEventStore, StoreError, StoreUnavailable, Write
from events.store.connection import connect_nats
from events.store.shelf import Shelf, bucket_name
from events.store.stream import StreamSpec, ensure_stream
from services.dispatch.app import SHELF_OWNER, open_shelf
from services.embedded.nats_permissions import authorization_block, publish_permissions
from services.embedded.nats_server import NatsServer
from services.notices.app import SHELF_OWNER as NOTICES_SHELF

SPEC = StreamSpec()
PASSWORDS = {user: uuid.uuid4().hex for user in publish_permissions(SPEC)}


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path / "nats", extra_config=authorization_block(SPEC, PASSWORDS)).start()
    try:
        yield server
    finally:
        server.stop()


async def as_user(server: NatsServer, user: str) -> JetStreamEventStore:
    url = server.url.replace("nats://", f"nats://{user}:{PASSWORDS[user]}@")
    nc = await connect_nats(url, name=f"perm-{user}")
    return JetStreamEventStore(nc, SPEC, timeout=1.0)


@pytest.fixture
async def stores(secured: NatsServer) -> AsyncIterator[dict[str, JetStreamEventStore]]:
    admin = await as_user(secured, "admin")
    await ensure_stream(admin.nc, SPEC)
    opened = {user: await as_user(secured, user) for user in PASSWORDS if user != "admin"}
    opened["admin"] = admin
    try:
        yield opened
    finally:
        for store in opened.values():
            await store.nc.close()


def event() -> Write:
    return Write(SPEC.event_subject(uuid.uuid4()), b"{}", expected_last_seq=0)


@pytest.mark.parametrize(
    ("user", "write", "allowed"),
    [
        ("api", lambda: event(), True),
        ("api", lambda: Write(SPEC.tracking_subject("triage"), b"{}"), False),
        ("projector", lambda: event(), False),
        ("triage", lambda: Write(SPEC.tracking_subject("triage"), b"{}"), True),
        ("triage", lambda: Write(SPEC.tracking_subject("dispatch"), b"{}"), False),
        ("dispatch", lambda: Write(SPEC.dead_letter_subject("dispatch"), b"{}"), True),
        ("notices", lambda: Write(SPEC.dead_letter_subject("triage"), b"{}"), False),
        # Re-driving a dead letter: the API may ask, and nothing more; only the worker records the outcome.
        ("api", lambda: Write(SPEC.retry_subject("triage"), b"{}"), True),
        ("api", lambda: Write(SPEC.retry_subject("notices"), b"{}"), True),
        ("api", lambda: Write(SPEC.dead_letter_subject("triage"), b"{}"), False),
        ("api", lambda: Write(SPEC.retried_subject("triage"), b"{}"), False),
        ("api", lambda: Write(SPEC.retry_subject("nobody"), b"{}"), False),
        ("api", lambda: Write(f"{SPEC.dead_letter_subject('triage')}.other", b"{}"), False),
        ("projector", lambda: Write(SPEC.retry_subject("triage"), b"{}"), False),
        ("triage", lambda: Write(SPEC.retried_subject("triage"), b"{}"), True),
        ("triage", lambda: Write(SPEC.retry_subject("triage"), b"{}"), False),
        ("dispatch", lambda: Write(SPEC.retried_subject("triage"), b"{}"), False),
    ],
)
async def test_a_service_publishes_only_to_its_own_subjects(
    stores: dict[str, JetStreamEventStore],
    user: str,
    write,
    allowed: bool,  # type: ignore[no-untyped-def]
) -> None:
    attempt = write()
    if allowed:
        await stores[user].append([attempt])
    else:
        with pytest.raises((StoreUnavailable, StoreError)):
            await stores[user].append([attempt])
    stored = await stores["admin"].last_message(attempt.subject)
    assert (stored is not None) is allowed


@pytest.mark.parametrize("user", ["api", "projector", "triage", "dispatch", "notices"])
async def test_every_service_can_read_the_stream(stores: dict[str, JetStreamEventStore], user: str) -> None:
    written = event()
    await stores["admin"].append([written])
    assert (await stores[user].last_message(written.subject)) is not None
    assert await stores[user].last_sequence() >= 1


@pytest.mark.parametrize("user", ["projector", "triage", "dispatch", "notices"])
async def test_the_stream_readers_read_through_a_consumer_of_their_own(
    stores: dict[str, JetStreamEventStore], user: str
) -> None:
    written = event()
    [position] = await stores["admin"].append([written])
    cursor = stores[user].open_cursor(user)
    assert cursor is not None
    read = await stores[user].read(after_seq=position - 1, limit=10, subject=">", cursor=cursor)
    assert [m.subject for m in read] == [written.subject]
    assert cursor.name is not None  # made and pulled from, not fallen back to direct gets
    await cursor.close()


async def test_the_api_makes_no_consumer_and_its_reads_fall_back_to_direct_gets(
    stores: dict[str, JetStreamEventStore],
) -> None:
    written = event()
    [position] = await stores["admin"].append([written])
    cursor = stores["api"].open_cursor("api")
    assert cursor is not None
    read = await stores["api"].read(after_seq=position - 1, limit=10, subject=">", cursor=cursor)
    assert [m.subject for m in read] == [written.subject]
    assert cursor.name is None  # refused: the API has no business with consumers


async def test_dispatch_keeps_its_shelf_and_no_other_user_can_write_or_read_it(
    stores: dict[str, JetStreamEventStore],
) -> None:
    dispatch = await open_shelf(stores["dispatch"].nc, SPEC, timeout=1.0)  # makes the bucket
    assert dispatch is not None
    await dispatch.put(b"the schedule", {"position": 1})
    shelved = await dispatch.get()
    assert shelved is not None and shelved.data == b"the schedule"
    bucket = bucket_name(SPEC)
    triage_js = stores["triage"].nc.jetstream(timeout=1.0)
    notices_js = stores["notices"].nc.jetstream(timeout=1.0)
    # Triage may not make the bucket (whoever makes it sets its config: a review made it first with rollups, or a
    # transform into dispatch's keys, and forged dispatch's shelf), nor write or read under any name.
    with pytest.raises((StoreUnavailable, nats.errors.TimeoutError)):
        await Shelf.open(stores["triage"].nc, SPEC, SHELF_OWNER, timeout=1.0)
    for subject in (f"$KV.{bucket}.dispatch.deadlines.head", f"$KV.{bucket}.triage.x"):
        with pytest.raises((nats.js.errors.APIError, nats.errors.TimeoutError)):
            await triage_js.publish(subject, b"forged", headers={"Nats-Rollup": "all"})
    # Notices keeps a shelf of its own there: its keys only, and no rollup through them.
    notices = await Shelf.open(stores["notices"].nc, SPEC, NOTICES_SHELF, timeout=1.0)
    await notices.put(b"the summaries", {"position": 1})
    assert (await notices.get()) is not None
    for subject, headers in ((f"$KV.{bucket}.dispatch.deadlines.head", {}),
                             (f"$KV.{bucket}.notices.x", {"Nats-Rollup": "all"})):  # fmt: skip
        with pytest.raises((nats.js.errors.APIError, nats.errors.TimeoutError)):
            await notices_js.publish(subject, b"forged", headers=headers)
    with pytest.raises(StoreUnavailable):
        await Shelf(notices.kv, SHELF_OWNER).get()  # dispatch's keys, through notices' credentials
    assert (await dispatch.get()) == shelved


async def test_dispatch_runs_without_a_shelf_when_its_credentials_allow_none(
    stores: dict[str, JetStreamEventStore],
) -> None:
    """Credentials from before shelves (here the API's, which have none): NATS does not answer, as in an election,
    so dispatch logs it, goes on, and asks again at the shelf's first use (which fails the same way)."""
    with capture_logs() as logs:
        shelf = await open_shelf(stores["api"].nc, SPEC, timeout=1.0)
    assert shelf is not None and shelf.kv is None
    assert "shelf_not_opened" in [line["event"] for line in logs]
    with pytest.raises(StoreUnavailable):
        await shelf.get()


async def test_no_service_reads_another_services_replies(stores: dict[str, JetStreamEventStore]) -> None:
    """Found by a review: every user could subscribe to `_INBOX.>`, and the API's credentials received dispatch's
    shelf as it was answered. Each now gets its replies under `_INBOX_<user>`, and may subscribe to those only."""
    dispatch = await open_shelf(stores["dispatch"].nc, SPEC, timeout=1.0)
    assert dispatch is not None
    await dispatch.put(b"the schedule", {"position": 1})
    api = stores["api"].nc
    overheard: list[bytes] = []
    with contextlib.suppress(Exception):
        await api.subscribe("_INBOX.>", cb=lambda msg: overheard.append(msg.data))  # type: ignore[arg-type, return-value]
    with contextlib.suppress(Exception):
        await api.subscribe("_INBOX_dispatch.>", cb=lambda msg: overheard.append(msg.data))  # type: ignore[arg-type, return-value]
    await api.flush()
    assert (await dispatch.get()) is not None  # answered on dispatch's own inbox
    await api.flush()
    # The server refuses both subscriptions (a permissions violation): nothing of dispatch's reaches the API.
    assert not [data for data in overheard if b"the schedule" in data]
    assert dispatch.kv is not None and stores["dispatch"].nc.new_inbox().startswith("_INBOX_dispatch.")
