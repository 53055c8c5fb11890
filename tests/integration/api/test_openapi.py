"""The OpenAPI document describes every route served, and the intake/Open311 routes behave as it says."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient

from tests.integration.api.conftest import MakeClient

Client = TestClient[web.Request, web.Application]
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
# Intake, Open311 writes and discovery, the document itself: the routes that need no token or read model.
FUZZED = (
    "createComplaint", "open311Discovery", "open311DiscoveryXml", "open311Services", "open311ServicesXml",
    "open311ServiceDefinition", "open311ServiceDefinitionXml", "open311CreateRequest", "open311CreateRequestXml",
    "open311Token", "open311TokenXml", "openapi",
)  # fmt: skip
FUZZ_BOUND = 90.0


async def test_every_served_route_is_in_the_document(api_client: Client) -> None:
    document = await (await api_client.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in api_client.app.router.routes()
        if route.resource is not None and route.method not in ("HEAD", "OPTIONS")
    }
    described = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served - described == set(), "routes served but not in /api/openapi.json"
    assert described - served == set(), "routes in /api/openapi.json that are not served"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_schemathesis_finds_no_5xx_and_no_undocumented_response(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client()  # its TestServer listens on a real loopback port
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", str(client.make_url("/api/openapi.json")),
        *(arg for op in FUZZED for arg in ("--include-operation-id", op)),
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,response_headers_conformance",
        "--max-examples", "25", "--phases", "examples,fuzzing", "--seed", "311",
        "--max-time", "40", "--workers", "2",
        "--no-color", "--report-dir", str(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(FUZZ_BOUND):
        output, _ = await process.communicate()
    assert process.returncode == 0, output.decode(errors="replace")[-6000:]


async def test_refusals_any_request_can_meet_are_documented(api_client: Client) -> None:
    """A token not valid (401) and a body too slow (408) come from middlewares, before any handler: every
    operation taking a token or a body says so, and what /healthz answers is what its schema says."""
    document = await (await api_client.get("/api/openapi.json")).json()
    bad_token = {"Authorization": "Bearer not-a-token", "Content-Type": "application/json"}
    intake = await api_client.post("/api/v1/complaints", data="{}", headers=bad_token)
    assert intake.status == 401
    command = await api_client.post(
        "/api/v1/complaints/5b0c0000-0000-4000-8000-000000000000/accept", data="{}", headers=bad_token
    )
    assert command.status == 401
    for path in ("/api/v1/complaints", "/api/v1/complaints/{id}/accept"):
        assert {"401", "408"} <= set(document["paths"][path]["post"]["responses"]), path
    health = await api_client.get("/healthz")
    assert health.status == 200
    schema = document["paths"]["/healthz"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == set(await health.json())
