"""Open311's 429 says when to retry, in both formats, as the JSON API's 429 does.

test_open311.py and test_edge.py check only the status of Open311's 429s; Retry-After is checked on the JSON
API's 429 alone.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

import pytest

from services.api import ratelimit
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_open311 import BASE, REQUEST

ONE = ratelimit.Bucket(rate=0.001, burst=1)


@pytest.mark.parametrize("fmt", ["json", "xml"])
async def test_an_open311_429_carries_retry_after(make_client: MakeClient, fmt: str) -> None:
    client = await make_client(limits=ratelimit.RateLimits(public=ONE, open311_key=ONE))
    assert (await client.post(f"{BASE}/requests.{fmt}", data=REQUEST)).status == 201
    refused = await client.post(f"{BASE}/requests.{fmt}", data=REQUEST)
    assert refused.status == 429
    assert int(refused.headers.get("Retry-After", "0")) >= 600, dict(
        refused.headers
    )  # the key's bucket: ~1000 s
