"""The router's own 404 and 405 are RFC 9457 problems too, as every other 4xx.

test_intake.py's unmatched-path test checks their status and log lines only; no test reads their content type.

Found by a mutation audit: the suite passed with this guarantee broken.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient


async def test_an_unknown_path_and_a_wrong_method_answer_problem_json(
    api_client: TestClient[web.Request, web.Application],
) -> None:
    missing = await api_client.get("/api/v1/no-such-thing")
    wrong = await api_client.put("/api/v1/complaints", json={})
    for response, status in ((missing, 404), (wrong, 405)):
        assert response.status == status
        assert response.content_type == "application/problem+json", (status, await response.text())
        problem = await response.json()
        assert problem["status"] == status and problem["title"]
    assert "POST" in wrong.headers["Allow"]
