"""Open311's error array carries what the API's own problems tell a client to act on."""

from __future__ import annotations

import json

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from services.api.open311 import spec_errors
from services.api.problems import Problem


async def test_an_unconfirmed_write_names_its_tracking_code_in_the_spec_s_error_array() -> None:
    """The advice says to look up the tracking code before filing again; the spec's array had no room for it,
    so an Open311 client was told to use a code it never got (found by a review of the docs against the code)."""

    async def unconfirmed(request: web.Request) -> web.Response:
        raise Problem(503, "Not confirmed", "May or may not be stored. Look up its tracking_code in a minute.",
                      code="write_unconfirmed", extensions={"tracking_code": "LV-7K3QX9"})  # fmt: skip

    response = await spec_errors(unconfirmed)(make_mocked_request("POST", "/open311/v2/requests.json"))
    assert response.status == 503 and response.headers["Retry-After"]
    [error] = json.loads(response.body)
    assert error["code"] == 503 and "LV-7K3QX9" in error["description"]
