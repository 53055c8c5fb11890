"""Every answer is hardened against being sniffed, run or framed: answers echo what clients sent now and then."""

from __future__ import annotations

from tests.integration.api.conftest import MakeClient

API_CSP = "default-src 'none'; frame-ancestors 'none'"


async def test_api_answers_are_never_sniffed_run_or_framed_and_pages_keep_their_own_policy(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    answers = {
        "json": await client.get("/api/v1/reference"),
        "problem": await client.get("/api/v1/complaints/not-a-uuid"),
        "open311 error naming the input": await client.get("/open311/v2/services/<script>.json"),
        "unknown path": await client.get("/nothing/here"),
    }
    for what, response in answers.items():
        assert response.headers.get("X-Content-Type-Options") == "nosniff", what
        assert response.headers.get("Content-Security-Policy") == API_CSP, what
        assert response.headers.get("Referrer-Policy") == "no-referrer", what
    assert [r.status for r in answers.values()] == [200, 401, 404, 404]

    page = await client.get("/status")
    assert page.status == 200
    policy = page.headers["Content-Security-Policy"]
    assert (
        policy.startswith("default-src 'self'") and "script-src 'self'" in policy
    )  # the page's, not the API's
