"""GET /metrics on the API: Prometheus text, counts by channel and route template, nothing personal."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from events.store import JetStreamEventStore
from services.api import metrics
from services.embedded.nats_server import NatsServer
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_intake import ADDRESS, GOOD, NAME, PHONE, URL

Client = TestClient[web.Request, web.Application]


async def scrape(client: Client) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    text = await response.text()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_the_intake_counter_rises_with_each_complaint_stored(api_client: Client) -> None:
    _, before = await scrape(api_client)
    for _ in range(2):
        response = await api_client.post(URL, json=GOOD)
        assert response.status == 201
    text, after = await scrape(api_client)
    received = "levee_complaints_received_total"
    assert value(after, received, channel="web") == value(before, received, channel="web") + 2
    requests = "levee_http_requests_total"
    labels = {"method": "POST", "route": URL, "status": "201"}
    assert value(after, requests, **labels) == value(before, requests, **labels) + 2
    assert value(after, "levee_http_request_duration_seconds_count", method="POST", route=URL) >= 2
    tracking_code = (await response.json())["tracking_code"]
    for personal in (NAME, PHONE, ADDRESS, tracking_code, GOOD["description"].strip()[:20]):
        assert personal not in text


async def test_requests_are_labelled_by_route_template_not_by_path(api_client: Client) -> None:
    await api_client.get("/api/v1/status/ABCD-EFGH-JKLM")
    await api_client.get("/no/such/path/with-a-secret-in-it")
    text, samples = await scrape(api_client)
    assert "ABCD-EFGH-JKLM" not in text and "with-a-secret-in-it" not in text
    routes = {dict(labels).get("route") for name, labels in samples if name == "levee_http_requests_total"}
    assert {"/api/v1/status/{tracking_code}", "unmatched"} <= routes


async def test_metrics_is_described_in_the_openapi_document(api_client: Client) -> None:
    document = await (await api_client.get("/api/openapi.json")).json()
    assert document["paths"]["/metrics"]["get"]["security"] == [{}]


async def test_the_stream_gauges_show_what_the_stream_holds(
    api_client: Client, store: JetStreamEventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nats-server's memory grows with the stream (docs/operations.md): operators plan and alert on these."""
    monkeypatch.setattr(metrics, "STREAM_TIMEOUT", 10.0)  # a slow read would show an earlier test's values
    for _ in range(2):
        assert (await api_client.post(URL, json=GOOD)).status == 201
    _, samples = await scrape(api_client)
    state = await store.stream_state()
    assert state["messages"] == 4  # each complaint: its first event and its tracking code's claim
    assert value(samples, "levee_stream_messages") == state["messages"]
    assert value(samples, "levee_stream_bytes") == state["bytes"] > 0
    assert value(samples, "levee_stream_subjects") == state["num_subjects"] == 4
    assert abs(value(samples, "levee_stream_read_timestamp_seconds") - time.time()) < 60


async def test_with_nats_down_metrics_still_answers_and_keeps_the_last_stream_size(
    make_client: MakeClient, own_nats_server: NatsServer
) -> None:
    client = await make_client(nats_url=own_nats_server.url)
    assert (await client.post(URL, json=GOOD)).status == 201
    _, before = await scrape(client)
    assert value(before, "levee_stream_messages") == 2
    await asyncio.to_thread(own_nats_server.kill)
    async with asyncio.timeout(10):
        _, after = await scrape(client)  # 200, asserted in `scrape`
    assert value(after, "levee_stream_messages") == 2
