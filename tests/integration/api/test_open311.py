"""Open311 GeoReport v2: discovery, creating a request (stored before the answer), tokens, the spec's errors."""

from __future__ import annotations

import uuid
from typing import Any
from xml.etree import ElementTree

import aiohttp
import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestClient

from events.complaint import Complaint
from events.mapper import make_mapper
from events.store import JetStreamEventStore
from events.store.aggregates import AggregateStore
from services.api import auth, ratelimit
from tests.integration.api.conftest import OPEN311_KEY, MakeClient

Client = TestClient[web.Request, web.Application]
BASE = "/open311/v2"
REQUEST: dict[str, str] = {
    "api_key": OPEN311_KEY,
    "service_code": "106",
    "lat": "22.5",
    "long": "113.9",
    "address_string": "12 Shore Road",
    "description": "Street flooded knee-deep outside the school",
    "first_name": "Mei",
    "last_name": "Wong",
    "phone": "+852 6000 1234",
    "attribute[depth]": "knee",
    "device_id": "dev-1",
}


async def test_services_list_every_category(api_client: Client) -> None:
    services = await (await api_client.get(f"{BASE}/services.json")).json()
    by_code = {s["service_code"]: s for s in services}
    assert by_code["106"]["service_name"] == "Flooding" and by_code["106"]["metadata"] is False
    assert all(s["type"] == "realtime" for s in services)

    response = await api_client.get(f"{BASE}/services.xml")
    assert response.content_type == "text/xml"
    root = ElementTree.fromstring(await response.text())
    assert {node.findtext("service_code") for node in root.iter("service")} == set(by_code)


async def test_service_definition(api_client: Client) -> None:
    response = await api_client.get(f"{BASE}/services/103.json")
    assert await response.json() == {"service_code": "103", "attributes": []}


async def test_creating_a_request_stores_it_then_answers(
    api_client: Client, store: JetStreamEventStore
) -> None:
    response = await api_client.post(f"{BASE}/requests.json", data=REQUEST)
    assert response.status == 201, await response.text()
    [answer] = await response.json()
    assert answer["account_id"] is None and "LV-" in answer["service_notice"]
    assert answer["service_notice"].startswith("已受理")  # Chinese first, as on every public page
    complaint = await AggregateStore(store, make_mapper()).get(
        uuid.UUID(answer["service_request_id"]), Complaint
    )
    assert (complaint.channel, complaint.category, complaint.district) == (
        "open311",
        "flooding",
        "harbourfront",
    )
    assert complaint.reporter_sealed and b"Wong" not in b"".join(
        m.data for m in await store.read_subject(store.spec.event_subject(complaint.id))
    )

    token = answer["service_request_id"]
    found = await (await api_client.get(f"{BASE}/tokens/{token}.json")).json()
    assert found == [{"service_request_id": token, "token": token}]


async def test_a_multipart_form_is_read_like_an_urlencoded_one(api_client: Client) -> None:
    form = aiohttp.FormData(REQUEST, default_to_multipart=True)
    response = await api_client.post(f"{BASE}/requests.json", data=form)
    assert response.status == 201, await response.text()
    assert response.request_info.headers["Content-Type"].startswith("multipart/form-data")
    [answer] = await response.json()
    assert "LV-" in answer["service_notice"]


@pytest.mark.parametrize(
    "body",
    [
        b"--x\r\nnot a part",  # no boundary where the header says
        b"--b\r\nContent-Disposition: form-data; name=description\r\nContent-Type: text/plain; charset=bogus\r\n"
        b"\r\nflood\r\n--b--\r\n",
        b"--b\r\nContent-Disposition: form-data; name=description\r\nContent-Transfer-Encoding: x-bogus\r\n"
        b"\r\nflood\r\n--b--\r\n",
    ],
    ids=["no boundary", "unknown charset", "unknown encoding"],
)
async def test_a_form_that_does_not_parse_is_a_400_in_the_specs_array(
    api_client: Client, body: bytes
) -> None:
    boundary = "elsewhere" if body.startswith(b"--x") else "b"
    response = await api_client.post(
        f"{BASE}/requests.json",
        data=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status == 400, await response.text()
    [error] = await response.json()
    assert error["code"] == 400 and "could not be read" in error["description"]


async def test_a_staff_token_is_an_api_key(api_client: Client) -> None:
    token, _ = await api_client.app[auth.TOKENS].create("operator", "Open311 bridge")
    response = await api_client.post(f"{BASE}/requests.json", data={**REQUEST, "api_key": token})
    assert response.status == 201


async def test_the_press_files_no_complaints_through_open311(api_client: Client) -> None:
    token, _ = await api_client.app[auth.TOKENS].create("press", "Press desk")
    response = await api_client.post(f"{BASE}/requests.json", data={**REQUEST, "api_key": token})
    assert response.status == 403
    [error] = await response.json()
    assert error["code"] == 403 and "Press" in error["description"]


ONE = ratelimit.Bucket(rate=0.001, burst=1)  # one at once, then nothing for the rest of the test


async def test_a_staff_bridge_is_limited_as_staff_and_logged_as_its_role(make_client: MakeClient) -> None:
    client = await make_client(limits=ratelimit.RateLimits(public=ONE, open311_key=ONE))
    token, _ = await client.app[auth.TOKENS].create("operator", "Open311 bridge")
    with structlog.testing.capture_logs() as captured:
        statuses = [
            (await client.post(f"{BASE}/requests.json", data={**REQUEST, "api_key": token})).status
            for _ in range(3)
        ]
    assert statuses == [201, 201, 201]  # staff are not limited by default, whatever door they use
    lines = [r for r in captured if r["event"] == "http_request"]
    assert [r["role"] for r in lines] == ["operator"] * 3


async def test_a_published_api_key_has_its_own_bucket_and_bad_keys_spend_the_address(
    make_client: MakeClient,
) -> None:
    limits = ratelimit.RateLimits(public=ratelimit.Bucket(rate=0.001, burst=2), open311_key=ONE)
    client = await make_client(limits=limits)

    async def post(**form: str) -> int:
        return (await client.post(f"{BASE}/requests.json", data={**REQUEST, **form})).status

    assert [await post(), await post()] == [201, 429]  # the key's bucket, not the address's
    assert (
        await client.post("/api/v1/complaints", json={"channel": "web", "description": "x"})
    ).status == 201
    assert [await post(api_key="made-up-key"), await post(api_key="made-up-key")] == [403, 429]


def without(*names: str, **changes: str) -> dict[str, Any]:
    return {k: v for k, v in {**REQUEST, **changes}.items() if k not in names}


ERRORS = [
    ("no api_key", without("api_key"), 403, "api_key"),
    ("wrong api_key", without(api_key="guess"), 403, "api_key"),
    ("no service_code", without("service_code"), 400, "service_code"),
    ("unknown service_code", without(service_code="555"), 404, "service_code"),
    ("no location", without("lat", "long", "address_string"), 400, "lat/long or address_string"),
    ("outside area", without(lat="39.9", long="116.4"), 400, "outside the served area"),
    ("lat not a number", without(lat="north"), 400, "lat"),
    ("no description", without("description"), 400, "description"),
    ("control character", without(description="a\x00b"), 400, "description"),
    ("bad email", without(email="nope"), 400, "email"),
    ("unknown field", without(priority="P1"), 400, "priority"),
    ("wrong jurisdiction", without(jurisdiction_id="gotham"), 404, "jurisdiction_id"),
    ("bad media_url", without(media_url="javascript:alert(1)"), 400, "media_url"),
    # Found by a review: a lone lat was dropped and the request stored without a place.
    ("lat without long", without("long", address_string="1 Harbour Road"), 400, "long was not provided"),
    ("long without lat", without("lat", address_string="1 Harbour Road"), 400, "lat was not provided"),
    # Found by a review: address_id alone was accepted and the complaint stored with no place at all. This
    # deployment has no address system to look one up in, so it is refused, named, with or without a place.
    ("address_id alone", without("lat", "long", "address_string", address_id="A-12"), 400, "address_id"),
    ("address_id with a place", without(address_id="A-12"), 400, "address_id: not served here"),
    (
        "a blank-looking description",
        without(description="\u200b\u2060"),
        400,
        "description: must not be empty",
    ),
]


@pytest.mark.parametrize(("case", "form", "status", "says"), ERRORS, ids=[e[0] for e in ERRORS])
async def test_errors_follow_the_spec(
    api_client: Client, store: JetStreamEventStore, case: str, form: dict[str, str], status: int, says: str
) -> None:
    before = await store.last_sequence()
    response = await api_client.post(f"{BASE}/requests.json", data=form)
    assert response.status == status, await response.text()
    [error] = await response.json()
    assert error["code"] == status and says in error["description"], error
    assert await store.last_sequence() == before


async def test_a_field_given_twice_is_refused_and_every_wrong_field_is_named(
    api_client: Client, store: JetStreamEventStore
) -> None:
    before = await store.last_sequence()
    twice = [*without().items(), ("description", "second thoughts")]  # which one would count?
    response = await api_client.post(f"{BASE}/requests.json", data=twice)
    assert response.status == 400, await response.text()
    assert await response.json() == [{"code": 400, "description": "given more than once: description"}]
    both = await api_client.post(f"{BASE}/requests.json", data=without(phone="abc", email="nope"))
    assert both.status == 400
    said = [e["description"] for e in await both.json()]
    assert any(d.startswith("phone:") for d in said) and any(d.startswith("email:") for d in said), said
    assert await store.last_sequence() == before


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("get", f"{BASE}/services/000.json", {}, 404),
        ("get", f"{BASE}/tokens/not-a-token.json", {}, 404),
        ("get", f"{BASE}/tokens/{uuid.uuid4()}.json", {}, 404),
        ("get", f"{BASE}/services.json?jurisdiction_id=gotham", {}, 404),
        ("post", f"{BASE}/requests.json", {"json": REQUEST}, 415),
        ("post", f"{BASE}/requests.json", {"data": {**REQUEST, "description": "x" * 70_000}}, 413),
    ],
    ids=["unknown service", "malformed token", "unknown token", "jurisdiction", "json body", "too large"],
)
async def test_other_errors_are_spec_arrays(
    api_client: Client, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    response = await getattr(api_client, method)(path, **kwargs)
    assert response.status == status, await response.text()
    [error] = await response.json()
    assert error["code"] == status and error["description"]


async def test_a_file_in_a_multipart_form_is_refused_not_dropped(
    api_client: Client, store: JetStreamEventStore
) -> None:
    """Found by a review: a photo sent as a file part vanished and the request answered 201."""
    before = await store.last_sequence()
    form = aiohttp.FormData(REQUEST, default_to_multipart=True)
    form.add_field("media", b"\x89PNG...", filename="street.png", content_type="image/png")
    response = await api_client.post(f"{BASE}/requests.json", data=form)
    assert response.status == 400, await response.text()
    [error] = await response.json()
    assert (
        error["description"].startswith("media: files are not accepted")
        and "media_url" in error["description"]
    )
    assert await store.last_sequence() == before


async def test_a_token_lookup_checks_the_jurisdiction_and_discovery_gives_a_number(
    api_client: Client,
) -> None:
    """Found by a review: tokens/{token} ignored jurisdiction_id, which every other route checks."""
    response = await api_client.get(f"{BASE}/tokens/{uuid.uuid4()}.json?jurisdiction_id=gotham")
    assert response.status == 404 and "jurisdiction_id" in (await response.json())[0]["description"]
    discovery = await (await api_client.get(f"{BASE}/discovery.json")).json()
    assert "hotline 12345" in discovery["contact"]
