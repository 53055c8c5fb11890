"""No client-identity header buys a new bucket from a peer that is not a trusted proxy.

test_edge.py forges only X-Forwarded-For, so reading another proxy header (X-Real-IP, Forwarded, ...) from any
peer passed.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

from services.api import ratelimit
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_edge import BODY, TIGHT, URL

HEADERS = ("X-Forwarded-For", "X-Real-IP", "Forwarded", "X-Client-IP", "True-Client-IP", "CF-Connecting-IP")


async def test_no_forged_client_header_buys_a_new_bucket(make_client: MakeClient) -> None:
    client = await make_client(limits=ratelimit.RateLimits(public=TIGHT))  # no trusted proxies
    statuses = []
    for n in range(6):
        address = f"203.0.113.{n + 10}"
        forged = {name: (f"for={address}" if name == "Forwarded" else address) for name in HEADERS}
        statuses.append((await client.post(URL, json=BODY, headers=forged)).status)
    assert statuses == [201, 201, 429, 429, 429, 429], statuses
