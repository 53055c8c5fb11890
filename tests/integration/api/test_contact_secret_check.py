"""A replica with another contact secret files callers under other hashes (duplicates unseen, histories split)
and nothing failed: now it says so at error level and on /metrics, and still takes complaints."""

from __future__ import annotations

import asyncpg
from aiohttp import web
from aiohttp.test_utils import TestClient
from structlog.testing import capture_logs

from services.api import contact_secret_check
from tests.integration.api.conftest import CONTACT_SECRET, MakeClient
from tests.integration.api.test_intake import GOOD, URL

OTHER_SECRET = b"another-contact-secret-0123456789abcdef"
GAUGE = "levee_contact_secret_mismatch"


async def mismatch_gauge(client: TestClient[web.Request, web.Application]) -> float:
    text = await (await client.get("/metrics")).text()
    [line] = [line for line in text.splitlines() if line.startswith(GAUGE + " ")]
    return float(line.split()[1])


async def test_a_replica_with_another_contact_secret_says_so_and_keeps_taking_complaints(
    make_client: MakeClient, database_url: str
) -> None:
    first = await make_client()
    assert (
        await first.post(URL, json=GOOD)
    ).status == 201  # the first write records its secret's check value
    assert await mismatch_gauge(first) == 0

    other = await make_client(contact_hash_secret=OTHER_SECRET)
    with capture_logs() as logs:
        answer = await other.post(URL, json=GOOD)
    assert answer.status == 201, await answer.text()  # a split history beats a hotline that stops
    assert await mismatch_gauge(other) == 1
    [said] = [entry for entry in logs if entry["event"] == "contact_secret_differs"]
    assert said["log_level"] == "error" and "LEVEE_CONTACT_SECRET" in said["effect"]

    again = await make_client()  # the same secret as the first, restarted: all is well
    assert (await again.post(URL, json=GOOD)).status == 201
    assert await mismatch_gauge(again) == 0

    conn = await asyncpg.connect(database_url)
    try:
        recorded = await conn.fetchval(f"SELECT check_value FROM {contact_secret_check.TABLE}")
    finally:
        await conn.close()
    assert recorded == contact_secret_check.check_value(CONTACT_SECRET)  # the first secret's, kept
    assert CONTACT_SECRET not in recorded.encode() and OTHER_SECRET not in recorded.encode()


async def test_a_replica_with_no_contact_secret_beside_one_that_has_it_says_so(
    make_client: MakeClient,
) -> None:
    """It stores no contact hash at all: the same split, and it exported 0 (found by a review)."""
    first = await make_client()
    assert (await first.post(URL, json=GOOD)).status == 201
    bare = await make_client(contact_hash_secret=None)
    with capture_logs() as logs:
        assert (await bare.post(URL, json=GOOD)).status == 201
    assert await mismatch_gauge(bare) == 1
    assert [
        entry["log_level"] for entry in logs if entry["event"] == "contact_secret_missing_beside_others"
    ] == ["error"]
