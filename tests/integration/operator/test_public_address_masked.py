"""The reporter's own address, typed into the description, is masked in the public text.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

from uuid import UUID

from tests.integration.operator.conftest import Console


async def test_the_public_form_masks_the_reporters_own_address(console: Console) -> None:
    body = {
        "channel": "web", "description": "Water main burst outside 17 Quillmere Terrace, pouring into the road",
        "category": "water_outage",
        "location": {"district": "westbay", "address": "17 Quillmere Terrace, Flat 3B"},
    }  # fmt: skip
    answer = await console.ok("POST", "/api/v1/complaints", role=None, json=body, status=201)
    await console.project()
    masked = await console.conn.fetchval(
        "SELECT public_description FROM levee_read.complaints WHERE id = $1", UUID(answer["id"])
    )
    assert "Quillmere" not in masked, masked
    assert masked.startswith("Water main burst outside ") and masked.endswith(", pouring into the road"), (
        masked
    )
