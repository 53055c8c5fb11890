"""Caller history through a keyed hash, repeat calls on the existing case, and no phone number in clear
anywhere: not in the stream (subjects, headers, bodies), the logs, or any table of the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.integration.operator.conftest import PHONE, PHONE_FORMS, Console, hotline_call
from tests.integration.operator.helpers import event_names, load


def minutes_ago(n: int) -> str:
    return (datetime.now(UTC) - timedelta(minutes=n)).isoformat()


HISTORY = "/api/v1/operator/caller-history"


async def _take_call(console: Console, description: str, **extra: Any) -> dict[str, Any]:
    call = {"complaint": hotline_call(description, call_started_at=minutes_ago(4), **extra)}
    return await console.ok("POST", "/api/v1/operator/calls", json=call, status=201)


async def test_a_caller_is_found_by_their_number_in_any_format(console: Console) -> None:
    first = await _take_call(console, "No power on our whole street since 6 this morning")
    await _take_call(console, "Water supply is off in our block", phone="+86 137 0000 1111")
    await console.project()
    found = await console.ok("POST", HISTORY, json={"phone": "139-1234-5678"})
    assert [item["tracking_code"] for item in found["items"]] == [first["tracking_code"]]
    # As a Chinese IME types it, full-width, with the country code (found by a review: nothing found).
    wide = await console.ok("POST", HISTORY, json={"phone": "＋８６　１３９　１２３４　５６７８"})
    assert [item["tracking_code"] for item in wide["items"]] == [first["tracking_code"]]
    [item] = found["items"]
    assert item["open"] and item["status"] == "received" and item["category"] == "power_outage"
    assert set(item) >= {"department", "resolve_by", "agreed_resolution_at", "level"}
    nobody = await console.ok("POST", HISTORY, json={"phone": "+86 135 5555 0000"})
    assert nobody["items"] == []


async def test_only_operators_see_caller_history(console: Console) -> None:
    for role, status in ((None, 401), ("command", 403), ("press", 403), ("department:power", 403)):
        response = await console.call("POST", HISTORY, role, json={"phone": PHONE})
        assert response.status == status, role


async def test_a_repeat_call_is_added_to_the_open_case_and_counts_for_priority(console: Console) -> None:
    first = await _take_call(console, "No power on our whole street since 6 this morning")
    state = await console.ok(
        "POST",
        f"/api/v1/complaints/{first['id']}/repeat-calls",
        json={"note": "Still no power, fridge failing"},
    )
    assert state["status"] == "received"
    assert (await load(console.store, first["id"])).repeat_calls == 1
    assert (await event_names(console.store, first["id"]))[-1] == "ComplaintCallRepeated"
    await console.project()
    [item] = (await console.ok("POST", HISTORY, json={"phone": PHONE}))["items"]
    assert item["repeat_calls"] == 1


async def test_the_phone_number_is_nowhere_in_clear(console: Console, database_url: str) -> None:
    first = await _take_call(console, "No power on our whole street since 6 this morning")
    await console.ok("POST", f"/api/v1/complaints/{first['id']}/repeat-calls", json={"note": "again"})
    await console.ok("POST", HISTORY, json={"phone": PHONE})
    await console.ok("POST", "/api/v1/operator/preview", json={"description": "no power", "phone": PHONE})
    await console.project()

    stream = await console.store.read(after_seq=0, limit=1000, subject=">")
    assert stream, "the stream holds the complaint"
    texts = ["\n".join([m.subject, repr(m.headers), m.data.decode("utf-8", "replace")]) for m in stream]
    logs = console.logs.getvalue()
    assert "caller_history_looked_up" in logs and "call_stored" in logs, "the logs were captured"
    texts.append(logs)
    texts.extend(await _every_table(database_url))
    blob = "\n".join(texts)
    digits = "".join(ch for ch in blob if ch.isdigit() or ch == "\n")
    for form in PHONE_FORMS:
        assert form not in blob, form
    assert "13912345678" not in digits.replace("\n", "|"), "the number's digits appear in clear"


async def _every_table(database_url: str) -> list[str]:
    conn = await asyncpg.connect(database_url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'"
        )
        out = []
        for t in tables:
            rows = await conn.fetch(f'SELECT * FROM "{t["table_schema"]}"."{t["table_name"]}"')
            out.append("\n".join(str(tuple(r.values())) for r in rows))
        return out
    finally:
        await conn.close()
