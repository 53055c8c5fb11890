"""Open311 GeoReport v2 in XML, the spec's required format: every resource, its errors, and discovery."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient

from events.incident import Incident
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.api.open311_format import to_xml
from tests.integration.api.test_open311 import REQUEST
from tests.integration.pages.harness import Harness, read_api

Client = TestClient[web.Request, web.Application]
BASE = "/open311/v2"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
    "address", "address_id", "zipcode", "lat", "long", "media_url",
]  # fmt: skip


async def xml_of(response: ClientResponse, status: int = 200) -> ElementTree.Element:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "text/xml" and response.charset == "utf-8"
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ElementTree.fromstring(text)


def error_of(root: ElementTree.Element, status: int) -> str:
    assert root.tag == "errors"
    [error] = root.findall("error")
    assert error.findtext("code") == str(status)
    return error.findtext("description") or ""


async def test_a_service_definition_is_served_as_xml(api_client: Client) -> None:
    root = await xml_of(await api_client.get(f"{BASE}/services/103.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "103"
    attributes = root.find("attributes")
    assert attributes is not None and list(attributes) == []


def test_one_serialiser_names_every_list_item_as_the_spec_does() -> None:
    definition = {"service_code": "DMV66", "attributes": [{
        "variable": True, "code": "WHISHETN", "datatype": "singlevaluelist", "required": False,
        "values": [{"key": "123", "name": "Ford & sons <est. 1903>"}, {"key": "124", "name": None}],
    }]}  # fmt: skip
    root = ElementTree.fromstring(to_xml("service_definition", definition))
    [attribute] = root.findall("attributes/attribute")
    assert attribute.findtext("variable") == "true" and attribute.findtext("required") == "false"
    values = attribute.findall("values/value")
    assert [(v.findtext("key"), v.findtext("name")) for v in values] == [
        ("123", "Ford & sons <est. 1903>"),
        ("124", ""),  # None is the empty element
    ]
    # A character XML 1.0 cannot hold would make the whole document unreadable: it is replaced.
    assert (
        ElementTree.fromstring(to_xml("errors", [{"code": 400, "description": "a\x01b"}])).findtext(
            "error/description"
        )
        == "a\ufffdb"
    )


async def test_creating_a_request_as_xml_stores_it_and_its_token_is_found(
    api_client: Client, store: JetStreamEventStore
) -> None:
    root = await xml_of(await api_client.post(f"{BASE}/requests.xml", data=REQUEST), 201)
    assert root.tag == "service_requests"
    [request] = root.findall("request")
    complaint_id = request.findtext("service_request_id") or ""
    assert "LV-" in (request.findtext("service_notice") or "") and request.findtext("account_id") == ""
    assert await store.read_subject(store.spec.event_subject(uuid.UUID(complaint_id)))

    found = await xml_of(await api_client.get(f"{BASE}/tokens/{complaint_id}.xml"))
    assert found.tag == "service_requests"
    assert [(r.findtext("service_request_id"), r.findtext("token")) for r in found.findall("request")] == [
        (complaint_id, complaint_id)
    ]


async def test_an_incidents_id_is_no_token(api_client: Client, store: JetStreamEventStore) -> None:
    """Found by a review: any id with events stored answered as a service request, an incident's included."""
    incident = Incident.declare(
        title="Flooding in Old Town", kind="flooding", districts=[], declared_by="triage"
    )
    await AggregateStore(store, make_mapper()).save(incident)
    assert "not found" in error_of(
        await xml_of(await api_client.get(f"{BASE}/tokens/{incident.id}.xml"), 404), 404
    )
    as_json = await api_client.get(f"{BASE}/tokens/{incident.id}.json")
    assert as_json.status == 404 and (await as_json.json())[0]["code"] == 404


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "says"),
    [
        ("get", f"{BASE}/services.xml?jurisdiction_id=nope", {}, 404, "jurisdiction_id"),
        ("get", f"{BASE}/services/000.xml", {}, 404, "service_code '000'"),
        ("get", f"{BASE}/services/%3Cb%3E%26.xml", {}, 404, "service_code '<b>&'"),  # escaped, and read back
        ("get", f"{BASE}/tokens/not-a-token.xml", {}, 404, "token not found"),
        ("post", f"{BASE}/requests.xml", {"data": {**REQUEST, "api_key": ""}}, 403, "api_key"),
        ("post", f"{BASE}/requests.xml", {"json": REQUEST}, 415, "form-encoded"),
        ("post", f"{BASE}/requests.xml", {"data": urlencode({**REQUEST, "x\x01y": "1"}), "headers": FORM}, 400,
         "x\ufffdy"),
        ("get", f"{BASE}/requests.xml?status=pending", {}, 400, "status"),
    ],
    ids=["jurisdiction", "unknown service", "markup in the input", "malformed token", "no api_key", "json body",
         "control character", "bad filter"],
)  # fmt: skip
async def test_errors_come_back_in_xml_when_xml_was_asked_for(
    api_client: Client, method: str, path: str, kwargs: dict[str, Any], status: int, says: str
) -> None:
    response = await getattr(api_client, method)(path, **kwargs)
    assert says in error_of(await xml_of(response, status), status)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", f"{BASE}/nope.json", 404),
        ("get", f"{BASE}/", 404),
        ("get", f"{BASE}/tokens/a/b.json", 404),
        ("delete", f"{BASE}/services.json", 405),
    ],
)
async def test_a_path_or_method_not_served_under_open311_is_the_specs_error_array(
    api_client: Client, method: str, path: str, status: int
) -> None:
    """Found by a review: these answered problem+json, which an Open311 client does not parse."""
    response = await getattr(api_client, method)(path)
    assert response.status == status and response.content_type == "application/json"
    [error] = await response.json()
    assert error["code"] == status and error["description"]
    if status == 405:
        assert "GET" in response.headers["Allow"] and "GET" in error["description"]


async def test_a_path_not_served_asked_as_xml_is_an_xml_error(api_client: Client) -> None:
    description = error_of(await xml_of(await api_client.get(f"{BASE}/requests/a/b.xml"), 404), 404)
    assert "discovery" in description and "a/b" not in description  # a path can hold a token: not echoed


async def test_discovery_names_the_endpoint_and_both_formats(api_client: Client) -> None:
    response = await api_client.get(f"{BASE}/discovery.json")
    assert response.status == 200 and response.content_type == "application/json"
    document = await response.json()
    [endpoint] = document["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == str(api_client.make_url(BASE)) and endpoint["type"] == "production"
    assert endpoint["formats"] == ["text/xml", "application/json"]
    assert document["changeset"] == endpoint["changeset"] and document["contact"] and document["key_service"]

    root = await xml_of(await api_client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery" and root.findtext("changeset") == document["changeset"]
    assert root.findtext("endpoints/endpoint/url") == endpoint["url"]
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == endpoint["formats"]


@pytest.fixture
async def api(store: JetStreamEventStore, nats_url: str, database_url: str) -> AsyncIterator[Harness]:
    async with read_api(store, nats_url, database_url) as harness:
        yield harness


async def test_service_requests_read_as_xml_match_the_json(api: Harness) -> None:
    listed = await api.get_json(f"{BASE}/requests.json")
    root = await xml_of(await api.get(f"{BASE}/requests.xml"))
    requests = root.findall("request")
    assert root.tag == "service_requests" and len(requests) == len(listed) == len(api.day.complaints)
    assert all([child.tag for child in r] == REQUEST_FIELDS for r in requests)
    assert [r.findtext("service_request_id") for r in requests] == [r["service_request_id"] for r in listed]

    long = str(api.day.complaints["long"])
    [one] = (await xml_of(await api.get(f"{BASE}/requests/{long}.xml"))).findall("request")
    assert one.findtext("status") == "closed" and one.findtext("agency_responsible") == "Drainage Services"
    as_json = next(r for r in listed if r["service_request_id"] == long)
    assert one.findtext("lat") == ("" if as_json["lat"] is None else str(as_json["lat"]))
    assert one.findtext("address_id") == ""  # an element with no value, as the spec writes one
    missing = await api.get(f"{BASE}/requests/{uuid.uuid4()}.xml")
    assert "not found" in error_of(await xml_of(missing, 404), 404)
