"""The city's own web form on another origin files a complaint and reads its answers from a resident's browser
(LEVEE_CORS_ORIGINS): its preflight got 405 and no answer named the origin, so every portal had to proxy (found
by a review of the public pages). Only the listed origins, only what the public sends: never a staff token."""

from __future__ import annotations

import pytest

from services.settings import SettingsError
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_intake import GOOD, URL

PORTAL = "https://www.city.example"
PREFLIGHT = {
    "Origin": PORTAL,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type, idempotency-key",
}


async def test_the_citys_form_files_a_complaint_and_reads_every_answer_cross_origin(
    make_client: MakeClient,
) -> None:
    client = await make_client(cors_origins=(PORTAL,))
    preflight = await client.options(URL, headers=PREFLIGHT)
    assert preflight.status == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"]

    filed = await client.post(URL, json=GOOD, headers={"Origin": PORTAL, "Idempotency-Key": "portal-1"})
    assert filed.status == 201
    assert filed.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Location" in filed.headers["Access-Control-Expose-Headers"]
    refused = await client.post(URL, json={**GOOD, "description": ""}, headers={"Origin": PORTAL})
    assert (
        refused.status == 422 and refused.headers["Access-Control-Allow-Origin"] == PORTAL
    )  # the form reads why
    categories = await client.get("/api/v1/reference", headers={"Origin": PORTAL})  # what the form offers
    assert categories.status == 200 and categories.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Origin" in categories.headers["Vary"]


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({**PREFLIGHT, "Origin": "https://evil.example"}, "origin_not_allowed"),
        (
            {**PREFLIGHT, "Access-Control-Request-Headers": "authorization"},
            "cors_not_allowed",
        ),  # a staff token
        ({**PREFLIGHT, "Access-Control-Request-Method": "DELETE"}, "cors_not_allowed"),
    ],
    ids=["another origin", "a staff token", "another method"],
)
async def test_what_is_not_allowed_cross_origin_is_refused_saying_why(
    make_client: MakeClient, headers: dict[str, str], code: str
) -> None:
    client = await make_client(cors_origins=(PORTAL,))
    preflight = await client.options(URL, headers=headers)
    assert preflight.status == 403 and (await preflight.json())["code"] == code
    assert "Access-Control-Allow-Origin" not in preflight.headers
    stranger = await client.get("/api/v1/reference", headers={"Origin": "https://evil.example"})
    assert stranger.status == 200 and "Access-Control-Allow-Origin" not in stranger.headers


async def test_without_the_setting_nothing_is_allowed_cross_origin(make_client: MakeClient) -> None:
    client = await make_client()
    assert (await client.options(URL, headers=PREFLIGHT)).status == 405
    answer = await client.get("/api/v1/reference", headers={"Origin": PORTAL})
    assert "Access-Control-Allow-Origin" not in answer.headers


@pytest.mark.parametrize("origin", ["*", "www.city.example", "https://www.city.example/", "https://a@city.example",
                                    "ftp://city.example", "https://city.example/form", "https://WWW.city.example",
                                    "https://www.city.example:443", "https://a:99999"])  # fmt: skip
def test_an_origin_is_a_scheme_and_a_host_only(api_settings: object, origin: str) -> None:
    with pytest.raises(SettingsError, match="LEVEE_CORS_ORIGINS"):
        api_settings.replace(cors_origins=(origin,))  # type: ignore[attr-defined]


async def test_outage_answers_are_readable_cross_origin_and_every_answer_varies_by_origin(
    make_client: MakeClient,
) -> None:
    """Found by a review: the 503s request_context makes (PostgreSQL down) had no CORS headers, so a portal
    could not read the Retry-After of exactly the outage answers; and an answer fetched without an Origin said
    no Vary: Origin, so a shared cache could serve that copy to the portal's browser, which blocks it."""
    client = await make_client(cors_origins=(PORTAL,), database_url="postgresql://nobody@127.0.0.1:9/none")
    down = await client.get("/api/v1/status/LV-7K3QX9", headers={"Origin": PORTAL})
    assert down.status == 503 and down.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Retry-After" in down.headers["Access-Control-Expose-Headers"]
    plain = await client.get("/api/v1/reference")
    assert plain.status == 200 and "Origin" in plain.headers["Vary"]
    head = await client.options(URL, headers={**PREFLIGHT, "Access-Control-Request-Method": "HEAD",
                                              "Access-Control-Request-Headers": "if-none-match"})  # fmt: skip
    assert head.status == 204
