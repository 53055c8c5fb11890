"""Every POST names the unknown field it refuses, whatever else is missing.

The role matrix sends {"matrix_probe_unknown_field": true} and accepts any 422, but a route with a required field
answers 422 for the missing field alone: a route that ignored unknown fields passed.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import Staff, open_staff
from tests.integration.api.test_roles_matrix import MATRIX, PROBE, _call, _fill, _targets


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def test_every_post_names_the_unknown_field_it_refuses(staff: Staff) -> None:
    ids = await _targets(staff)
    [probe_field] = PROBE
    silent: list[str] = []
    for (method, template), roles in sorted(MATRIX.items()):
        if method != "POST":
            continue
        caller = sorted(roles)[0]
        status, body = await _call(staff, method, _fill(template, ids), caller)
        named = [e.get("field") for e in body.get("errors", [])]
        if status != 422 or probe_field not in named:
            silent.append(f"{caller} POST {template}: {status} {named}")
    assert not silent, "\n".join(silent)
