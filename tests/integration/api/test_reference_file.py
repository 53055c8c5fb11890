"""LEVEE_REFERENCE: the API serves a deployment's own reference data, not the packaged file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import events.reference as reference_package
from events.reference import configure_reference
from services.triage.rules import configure_rules
from tests.integration.api.conftest import MakeClient


@pytest.fixture(autouse=True)
def packaged_again() -> Iterator[None]:
    """The app makes its file the process's reference data: later tests get the packaged one back."""
    yield
    configure_reference(None)
    configure_rules(None)  # the app reads triage's rules with its reference data too


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
    # Every layer, not only intake: the reference the board and pages draw from, and the domain's defaults.
    served = await (await client.get("/api/v1/reference")).json()
    assert {c["code"]: c["name_en"] for c in served["categories"]}["flooding"] == "Floods and storm water"
    assert reference_package.load_reference().category("flooding").name_en == "Floods and storm water"


async def test_the_card_is_offered_the_vulnerable_people_the_deployments_intake_takes(
    make_client: MakeClient, tmp_path: Path
) -> None:
    """The operator's card offered five kinds of its own; a city naming others got a 422 for every call with a
    ticked box it does not take (found by a review). The reference served to the pages says which it takes."""
    packaged = (Path(reference_package.__file__).parent / "levee.toml").read_text(encoding="utf-8")
    own = 'vulnerable_kinds = ["elderly", "disabled", "infant", "pregnant", "patient", "dialysis"]'
    path = tmp_path / "levee.toml"
    path.write_text(packaged.replace('vulnerable_kinds = ["elderly", "disabled", "infant", "pregnant", "patient"]',
                                     own), encoding="utf-8")  # fmt: skip
    client = await make_client(reference_file=path)
    served = await (await client.get("/api/v1/reference")).json()
    assert served["vulnerable_kinds"] == ["elderly", "disabled", "infant", "pregnant", "patient", "dialysis"]
