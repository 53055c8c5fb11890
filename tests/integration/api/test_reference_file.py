"""LEVEE_REFERENCE: the API serves a deployment's own reference data, not the packaged file."""

from __future__ import annotations

from pathlib import Path

import events.reference as reference_package
from tests.integration.api.conftest import MakeClient


async def test_the_api_started_with_a_reference_file_serves_its_categories(
    make_client: MakeClient, tmp_path: Path
) -> None:
    packaged = (Path(reference_package.__file__).parent / "levee.toml").read_text(encoding="utf-8")
    renamed = 'code = "flooding"\nname_en = "Floods and storm water"'
    path = tmp_path / "levee.toml"
    path.write_text(packaged.replace('code = "flooding"\nname_en = "Flooding"', renamed), encoding="utf-8")
    assert renamed in path.read_text(encoding="utf-8")

    client = await make_client(reference_file=path)
    services = await (await client.get("/open311/v2/services.json")).json()
    assert {s["service_code"]: s["service_name"] for s in services}["106"] == "Floods and storm water"
