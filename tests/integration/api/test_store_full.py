"""The stream's storage runs out in a surge: intake and staff commands say so, /healthz names it, nothing is
half-written, and every complaint answered 201 is in the stream (docs/operations.md, section 12)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient

from events.store import JetStreamEventStore
from events.store.connection import connect_nats
from events.store.stream import StreamSpec
from services.api import auth
from services.embedded.nats_server import NatsServer
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_intake import GOOD, URL
from tests.integration.api.test_metrics import scrape, value

log = structlog.get_logger(__name__)
Client = TestClient[web.Request, web.Application]
SENDERS = 4
MOST_REQUESTS = 2000  # about 1.5 KB a complaint: far past the limit, so the store is always full before this
REFUSED = "levee_store_writes_refused_total"


async def fill(client: Client) -> list[tuple[int, dict[str, str], dict[str, Any]]]:
    """Complaints from a few senders until the first 'event store full' answer (or the bound)."""
    answers: list[tuple[int, dict[str, str], dict[str, Any]]] = []
    full = asyncio.Event()
    sent = 0

    async def sender() -> None:
        nonlocal sent
        while not full.is_set() and sent < MOST_REQUESTS:
            sent += 1
            response = await client.post(URL, json=GOOD, headers={"Idempotency-Key": uuid.uuid4().hex})
            body = await response.json(content_type=None)
            answers.append((response.status, dict(response.headers), body))
            if body.get("code") == "event_store_full":
                full.set()

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return answers


async def test_a_full_event_store_is_a_clear_503_and_nothing_half_written(
    make_client: MakeClient, small_nats_server: NatsServer, stream_spec: StreamSpec
) -> None:
    client = await make_client(nats_url=small_nats_server.url)
    _, before = await scrape(client)
    answers = await fill(client)

    assert {status for status, _, _ in answers} <= {201, 503}
    accepted = [body["id"] for status, _, body in answers if status == 201]
    assert len(accepted) > 50, "the store was full long before its limit"
    codes = {body["code"] for status, _, body in answers if status == 503}
    # The batch that crosses the limit may go unanswered: "not confirmed", never "stored".
    assert codes <= {"event_store_full", "write_unconfirmed"}, codes
    full = next((a for a in answers if a[2].get("code") == "event_store_full"), None)
    assert full is not None, f"no event_store_full answer in {len(answers)} requests"
    _, headers, problem = full
    assert headers["Content-Type"].startswith("application/problem+json")
    assert headers["Retry-After"] == "60"
    assert problem["title"] == "The event store is full"
    assert problem["detail"].startswith("Nothing was stored: JetStream has no storage left")
    # "May or may not be stored": the answer gives the code it would have, to look up before filing again.
    for _, _, unconfirmed in (a for a in answers if a[2].get("code") == "write_unconfirmed"):
        code = unconfirmed["tracking_code"]
        assert unconfirmed["links"]["status"] == f"/api/v1/status/{code}" and code not in unconfirmed["detail"]

    # The operator's first page names it; a stream-info round trip alone would say NATS is fine.
    health = await client.get("/healthz")
    assert health.status == 503
    report = await health.json()
    assert report["nats"].startswith("refusing writes:") and "no_storage" in report["nats"], report
    _, after = await scrape(client)
    assert value(after, REFUSED, reason="no_storage") > value(before, REFUSED, reason="no_storage")

    # Refused requests change nothing; a staff command is refused the same way.
    nc = await connect_nats(small_nats_server.url, name="levee-test-full-readback")
    try:
        store = JetStreamEventStore(nc, stream_spec)
        messages = (await store.stream_state())["messages"]
        for _ in range(3):
            again = await client.post(URL, json=GOOD, headers={"Idempotency-Key": uuid.uuid4().hex})
            assert again.status == 503 and (await again.json())["code"] == "event_store_full"
        secret, _ = await client.app[auth.TOKENS].create("command", "test command")
        declared = await client.post(
            "/api/v1/incidents",
            json={"title": "Harbour flood", "kind": "flood", "districts": []},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert declared.status == 503 and (await declared.json())["code"] == "event_store_full"
        assert (await store.stream_state())["messages"] == messages

        # Every complaint answered 201 is in the stream, with the claim of its tracking code.
        codes_by_id = {body["id"]: body["tracking_code"] for status, _, body in answers if status == 201}
        for complaint_id, code in codes_by_id.items():
            events = await store.read_subject(stream_spec.event_subject(uuid.UUID(complaint_id)))
            assert events, f"complaint {complaint_id} was answered 201 but is not in the stream"
            claim = await store.last_message(stream_spec.code_subject(code))
            assert claim is not None and claim.data.decode() == complaint_id
        refusals = [body.get("code") for status, _, body in answers if status == 503]
        log.info(  # docs/reliability.md quotes these
            "store_full_figures", complaints_sent=len(answers) + 3, answered_201=len(codes_by_id),
            in_stream_with_claim=len(codes_by_id), event_store_full=refusals.count("event_store_full") + 3,
            write_unconfirmed=refusals.count("write_unconfirmed"), staff_command_refused=1,
            stream_messages=messages,
        )  # fmt: skip
    finally:
        await nc.close()
