"""Every route with every role: who is let through (anything but 401/403) and who is refused (401/403).

The routes come from `app.router`, so a new route is covered the day it is added: the test fails until the
route is in MATRIX (a staff route: the roles that may use it) or in PUBLIC_ROUTES (no token needed).
Each allowed POST sends a body with an unknown field, so it stops at validation (422) and changes nothing.
The case is dispatched to DEPT and projected, so the other department is refused by the object check on
commands and reads alike.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from projections.migrate import migrate
from projections.runner import ProjectionRunner
from services.api import keys
from tests.integration.api.conftest import MakeClient
from tests.integration.api.test_commands_support import DEPT, OTHER_DEPT, Staff, open_staff

CASE, INCIDENTS, NOTICES = "/api/v1/complaints/{id}", "/api/v1/incidents", "/api/v1/notices"
OPERATOR, COMMAND, PRESS = "operator", "command", "press"
OWN, OTHER = f"department:{DEPT}", f"department:{OTHER_DEPT}"  # the case's department, and another one
CALLERS = ("public", OPERATOR, COMMAND, PRESS, OWN, OTHER)
ANY_DEPARTMENT = {OWN, OTHER}  # e.g. lists that each department sees filtered to its own cases

# Open311's resources, each served as .json and .xml.
OPEN311 = (
    ("GET", "discovery"), ("GET", "services"), ("GET", "services/{service_code}"), ("POST", "requests"),
    ("GET", "requests"), ("GET", "requests/{service_request_id}"), ("GET", "tokens/{token}"),
)  # fmt: skip

# Who is let through, per route. The public is never let through a route listed here.
MATRIX: dict[tuple[str, str], set[str]] = {
    ("POST", f"{CASE}/dispatch"): {COMMAND},
    ("POST", f"{CASE}/accept"): {OWN},
    ("POST", f"{CASE}/return"): {OWN},
    ("POST", f"{CASE}/progress"): {OWN},
    ("POST", f"{CASE}/extension-requests"): {OWN},
    ("POST", f"{CASE}/extension-requests/grant"): {COMMAND},
    ("POST", f"{CASE}/extension-requests/deny"): {COMMAND},
    ("POST", f"{CASE}/escalate"): {COMMAND},
    ("POST", f"{CASE}/responsible"): {COMMAND},
    ("POST", f"{CASE}/reinstate"): {COMMAND},
    ("POST", f"{CASE}/resolve"): {OWN},
    ("POST", f"{CASE}/follow-ups"): {OPERATOR},
    ("POST", f"{CASE}/follow-up-attempts"): {OPERATOR},
    ("POST", f"{CASE}/reopen"): {OPERATOR, COMMAND},
    ("POST", f"{CASE}/close"): {OPERATOR, COMMAND},
    ("POST", f"{CASE}/redact"): {COMMAND},
    ("POST", INCIDENTS): {COMMAND},
    ("POST", f"{INCIDENTS}/{{id}}/status"): {COMMAND},
    ("POST", f"{INCIDENTS}/{{id}}/responsible"): {COMMAND},
    ("POST", f"{INCIDENTS}/{{id}}/complaints"): {COMMAND},
    ("POST", f"{INCIDENTS}/{{id}}/merge"): {COMMAND},
    ("POST", f"{INCIDENTS}/{{id}}/department-actions"): {*ANY_DEPARTMENT},  # each on its own cases only
    ("POST", NOTICES): {PRESS},
    ("POST", f"{NOTICES}/{{id}}/revise"): {PRESS},
    ("POST", f"{NOTICES}/{{id}}/approve"): {COMMAND},
    ("POST", f"{NOTICES}/{{id}}/publish"): {PRESS},
    ("POST", f"{NOTICES}/{{id}}/update"): {PRESS},
    ("POST", f"{NOTICES}/{{id}}/cancel"): {PRESS},
    # Reads (read_routes.py, live.py): the press never sees a complaint.
    ("GET", "/api/v1/complaints"): {OPERATOR, COMMAND, *ANY_DEPARTMENT},
    ("GET", CASE): {OPERATOR, COMMAND, OWN},
    # contact.py: to call the complainant back; operators only for a resolved case's follow-up (test_contact.py)
    ("GET", f"{CASE}/contact"): {COMMAND, OWN},
    ("GET", "/api/v1/departments/{code}/queue"): {COMMAND, OWN},
    ("GET", "/api/v1/departments/{code}/incidents"): {COMMAND, OWN},
    ("GET", INCIDENTS): {OPERATOR, COMMAND, PRESS, *ANY_DEPARTMENT},
    ("GET", "/api/v1/board"): {COMMAND},
    ("GET", "/api/v1/dead-letters"): {COMMAND},  # events workers set aside: command's to see
    ("POST", "/api/v1/dead-letters/{worker}/{event_position}/retry"): {COMMAND},  # dead_letters.py: and retry
    ("GET", "/api/v1/board/events"): {OPERATOR, COMMAND, PRESS, *ANY_DEPARTMENT},
    ("GET", "/api/v1/staff/notices"): {COMMAND, PRESS},
    ("GET", "/api/v1/reports/summary"): {COMMAND, PRESS},
    # The operator's console (operator.py, operator_commands.py).
    ("POST", f"{CASE}/repeat-calls"): {OPERATOR, COMMAND},
    ("POST", f"{CASE}/first-contact-resolution"): {OPERATOR},
    ("POST", f"{CASE}/agreed-resolution-time"): {OPERATOR, COMMAND},
    ("POST", f"{CASE}/emergency-transfers"): {OPERATOR, COMMAND},
    ("POST", f"{CASE}/follow-up-calls"): {OPERATOR},
    ("GET", "/api/v1/operator/guide"): {OPERATOR, COMMAND},
    ("POST", "/api/v1/operator/caller-history"): {OPERATOR},
    ("POST", "/api/v1/operator/preview"): {OPERATOR, COMMAND},
    ("GET", "/api/v1/operator/facts"): {OPERATOR, COMMAND},
    ("POST", "/api/v1/operator/calls"): {OPERATOR},
    ("GET", "/api/v1/operator/follow-ups"): {OPERATOR},
    ("GET", "/api/v1/operator/report"): {COMMAND, PRESS},
}
# No token needed (a bad token is still refused): intake, Open311, public status and notices, pages.
PUBLIC_ROUTES: set[tuple[str, str]] = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/livez"),
    ("GET", "/api/openapi.json"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/complaints"),
    ("GET", "/api/v1/me"),
    ("GET", "/api/v1/reference"),
    ("GET", "/api/v1/status/{tracking_code}"),
    ("GET", "/api/v1/notices"),
    ("GET", "/api/v1/notices/feed.atom"),
    ("GET", "/api/v1/notices/{id}/cap.xml"),
    *((method, f"/open311/v2/{name}.{fmt}") for method, name in OPEN311 for fmt in ("json", "xml")),
    ("GET", "/"),
    ("GET", "/board"),
    ("GET", "/department"),
    ("GET", "/press"),
    ("GET", "/reports"),
    ("GET", "/operator"),
    ("GET", "/status"),
    ("GET", "/status/{tracking_code}/"),
    ("GET", "/status/{tracking_code}"),
    ("GET", "/static/{name}"),
}
PROBE = {"matrix_probe_unknown_field": True}
# A 403 names why: the role may not, or the case is not this caller's (another department's; for an operator, a
# case not awaiting its follow-up call).
OBJECT_REFUSALS = ("role_not_allowed", "not_your_department", "not_awaiting_follow_up")


@pytest.fixture
async def staff(make_client: MakeClient) -> Staff:
    return await open_staff(await make_client())


def served_routes(staff: Staff) -> set[tuple[str, str]]:
    # HEAD is aiohttp's automatic twin of each GET.
    return {
        (route.method, route.resource.canonical)
        for route in staff.client.app.router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


async def test_every_served_route_is_in_the_matrix(staff: Staff) -> None:
    served = served_routes(staff)
    assert not served - MATRIX.keys() - PUBLIC_ROUTES, "add these routes to MATRIX or PUBLIC_ROUTES"
    assert not MATRIX.keys() - served, "the matrix lists routes that are no longer served"
    assert not MATRIX.keys() & PUBLIC_ROUTES


async def test_every_staff_route_lets_in_exactly_its_roles(staff: Staff) -> None:
    ids = await _targets(staff)
    wrong: list[str] = []
    for (method, template), roles in sorted(MATRIX.items()):
        path = _fill(template, ids)
        for caller in CALLERS:
            status, body = await _call(staff, method, path, caller)
            if caller in roles:
                # A POST is let through and stopped by the probe's unknown field (422), so nothing changes.
                if (method == "POST" and status != 422) or status in (401, 403):
                    wrong.append(f"{caller} {method} {template}: let through expected, got {status} {body}")
                continue
            refusals = {401} if caller == "public" else {403}
            if status not in refusals:
                wrong.append(f"{caller} {method} {template}: refusal expected, got {status} {body}")
            elif status == 403 and body.get("code") not in OBJECT_REFUSALS:
                wrong.append(f"{caller} {method} {template}: 403 without a reason code: {body}")
    assert not wrong, "\n".join(wrong)
    probed = await staff.complaint(uuid.UUID(ids["complaint"]))
    assert probed.version == int(ids["complaint_version"]), "a probe changed the case"


async def test_public_routes_need_no_token(staff: Staff) -> None:
    for method, template in sorted(PUBLIC_ROUTES):
        status, body = await _call(staff, method, _fill(template, {}), "public")
        assert status not in (401, 403), (method, template, status, body)


async def test_staff_routes_refuse_the_public_with_a_bearer_challenge(staff: Staff) -> None:
    response = await staff.client.post(NOTICES, json=PROBE)
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.headers["Content-Type"].startswith("application/problem+json")


async def _targets(staff: Staff) -> dict[str, str]:
    """A case dispatched to DEPT, an incident and a notice, all projected so the read routes see them too."""
    case = await staff.dispatched_case(DEPT)
    stored = await staff.complaint(case.id)
    status, incident = await staff.post(INCIDENTS, COMMAND, {"title": "Matrix flood", "kind": "flood"})
    assert status == 201
    text = {"title_en": "t", "title_zh": "标题", "body_en": "b", "body_zh": "正文", "status": "investigating"}
    status, notice = await staff.post(NOTICES, PRESS, text)
    assert status == 201
    async with staff.client.app[keys.PG_POOL].acquire() as conn:
        await migrate(conn)
        runner = ProjectionRunner(staff.aggregates.store, conn, notify=False)
        await runner.start()
        await runner.catch_up()
        await conn.execute("RESET search_path")  # the pool's connection goes back as it came
    return {"complaint": str(case.id), "complaint_version": str(stored.version),
            "incident": incident["id"], "notice": notice["id"]}  # fmt: skip


def _fill(template: str, ids: dict[str, str]) -> str:
    kind = (
        "complaint"
        if template.startswith(CASE)
        else "incident"
        if template.startswith(INCIDENTS)
        else "notice"
    )
    values = {"id": ids.get(kind, str(uuid.uuid4())), "code": DEPT, "tracking_code": "LV-ABCDEF",
              "service_code": "x", "service_request_id": str(uuid.uuid4()), "token": "x", "name": "x.css",
              "worker": "triage", "event_position": "1"}  # fmt: skip
    return template.format(**values)


async def _call(staff: Staff, method: str, path: str, caller: str) -> tuple[int, dict[str, Any]]:
    headers = {} if caller == "public" else {"Authorization": f"Bearer {staff.tokens[caller]}"}
    kwargs: dict[str, Any] = {"json": PROBE} if method == "POST" else {}
    async with staff.client.request(
        method, path, headers=headers, allow_redirects=False, **kwargs
    ) as response:
        if "json" not in response.content_type:
            return response.status, {}  # a page, an asset, or an event stream that would never end
        body = await response.json(content_type=None)
    return response.status, body if isinstance(body, dict) else {}
