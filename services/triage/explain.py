"""`levee triage explain`: the worker's own rules applied to intake bodies, with no server.

Reads JSON lines (the body of POST /api/v1/complaints; an optional ``context`` object sets cluster_size,
repeated_calls, media_exposure, minutes_waited) and writes one JSON line per input line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TextIO

from events.reference import Reference, load_reference
from services.triage.rules import Rules, load_rules
from services.triage.scoring import ComplaintFacts, Context, Verdict, judge


def facts_from_body(body: Mapping[str, Any]) -> ComplaintFacts:
    location = body.get("location") or {}
    return ComplaintFacts(
        description=str(body.get("description") or ""),
        category=body.get("category") or None,
        channel=str(body.get("channel") or "web"),
        lat=_number(location.get("lat")),
        lon=_number(location.get("lon")),
        district=location.get("district") or None,
        people_affected=int(body.get("people_affected") or 1),
        vulnerable=tuple(body.get("vulnerable") or ()),
        media_exposure=bool(body.get("media_exposure", False)),
    )


def context_from_body(body: Mapping[str, Any]) -> Context:
    raw = body.get("context") or {}
    return Context(
        cluster_size=int(raw.get("cluster_size", 1)),
        repeated_calls=int(raw.get("repeated_calls", 0)),
        media_exposure=bool(raw.get("media_exposure", False)),
        minutes_waited=float(raw.get("minutes_waited", 0.0)),
        accept_within_minutes=raw.get("accept_within_minutes"),
    )


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def explain_body(body: Mapping[str, Any], rules: Rules, reference: Reference) -> Verdict:
    return judge(facts_from_body(body), context_from_body(body), rules, reference)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    a = verdict.assessment
    return {
        "level": a.level,
        "score": a.score,
        "category": a.category,
        "life_threatening": a.life_threatening,
        "valid": verdict.valid,
        "reason": verdict.reason,
        "factors": a.factors,
    }


def main(
    stdin: TextIO, stdout: TextIO, *, rules: Rules | None = None, reference: Reference | None = None
) -> int:
    """0 when every line was explained, 1 when any line was not a complaint body (reported on its line)."""
    rules, reference = rules or load_rules(), reference or load_reference()
    status = 0
    for number, line in enumerate(stdin, start=1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
            if not isinstance(body, dict):
                raise ValueError("a line must be a JSON object")
            result = verdict_json(explain_body(body, rules, reference))
        except (ValueError, TypeError) as exc:
            result, status = {"line": number, "error": str(exc)}, 1
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    return status
