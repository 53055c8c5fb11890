"""A keyed command retried with only a flag changed is another body: refused.

test_command_idempotency.py changes only the note's text between tries (and CREATIONS change strings), so a
fingerprint that left out booleans or numbers passed.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

import pytest

from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_command_idempotency import KEY, note_path, send, topics
from tests.integration.api.test_commands_support import DEPT, Staff, open_staff


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


async def test_a_key_reused_with_the_public_flag_changed_is_refused(staff: Staff) -> None:
    case = await staff.dispatched_case()
    water = f"department:{DEPT}"
    await staff.command(case.id, "accept", water)
    first = await send(
        staff, note_path(case), water, {"text": "Crew on site", "public": False}, "note-key-flag1"
    )
    assert first[0] == 200, first
    before = await topics(staff, case.id)
    status, problem, replayed = await send(
        staff, note_path(case), water, {"text": "Crew on site", "public": True}, "note-key-flag1"
    )
    assert (status, problem.get("code"), replayed) == (422, "idempotency_key_reused", False), problem
    assert [e["field"] for e in problem["errors"]] == [KEY]
    assert await topics(staff, case.id) == before
