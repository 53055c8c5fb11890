"""A NUL character (%00) in a path or a query: PostgreSQL's text cannot hold one, and each of these answered a
plain-text 500 with a traceback at error level (found by a security review). Now a clear refusal before any
query: 404 for a path (nothing can be found there), 422 naming the parameter (400 in Open311's own errors)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from xml.etree import ElementTree

import pytest

from events.store import JetStreamEventStore
from tests.integration.pages.harness import Harness, read_api

MESSAGE = "must not contain a NUL character (%00)"


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


@pytest.mark.parametrize(
    "path", ["/api/v1/status/%00", "/api/v1/status/LV-%00AB", "/api/v1/complaints/%00/contact"]
)
async def test_a_nul_in_a_path_is_not_found_in_words(api: Harness, path: str) -> None:
    response = await api.client.get(path, headers=await api.headers("command"))
    assert response.status == 404, await response.text()
    assert response.content_type == "application/problem+json"
    assert MESSAGE in (await response.json())["detail"]


@pytest.mark.parametrize(
    ("path", "role", "params", "field"),
    [
        ("/api/v1/complaints", "command", {"tracking_code": "LV-\x00"}, "tracking_code"),
        ("/api/v1/complaints", "command", {"district": "\x00", "status": "dispatched"}, "district"),
        ("/api/v1/operator/facts", "operator", {"district": "\x00"}, "district"),
    ],
)
async def test_a_nul_in_a_query_is_refused_naming_the_parameter(
    api: Harness, path: str, role: str, params: dict[str, str], field: str
) -> None:
    response = await api.get(path, role, **params)
    assert response.status == 422, await response.text()
    problem = await response.json()
    assert problem["errors"] == [{"field": field, "message": MESSAGE}]


async def test_open311_says_so_in_its_own_errors(api: Harness) -> None:
    by_id = await api.client.get("/open311/v2/requests/%00.json")
    assert by_id.status == 404
    assert MESSAGE in (await by_id.json())[0]["description"]
    listed = await api.client.get("/open311/v2/requests.json", params={"service_request_id": "lv-\x00"})
    assert listed.status == 400
    assert await listed.json() == [{"code": 400, "description": f"service_request_id {MESSAGE}"}]
    as_xml = await api.client.get("/open311/v2/requests.xml", params={"service_request_id": "\x00"})
    assert as_xml.status == 400
    error = ElementTree.fromstring(await as_xml.text()).find("error")
    assert error is not None and error.findtext("code") == "400"
    # The same lookups without the NUL still work: the guard refuses nothing else.
    code = api.day.codes["handling"]
    assert (await api.client.get(f"/api/v1/status/{code}")).status == 200
    found = await api.client.get("/open311/v2/requests.json", params={"service_request_id": code})
    assert found.status == 200 and len(await found.json()) == 1


async def test_a_page_link_holding_a_nul_still_opens_its_page(api: Harness) -> None:
    """The status page looks its code up through the API from its script, which then says it is not found."""
    page = await api.client.get("/status/%00")
    assert page.status == 200 and page.content_type == "text/html"
