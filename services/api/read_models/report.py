"""The after-action summary for one incident or overall, and its CSV export. Aggregates only: no personal data."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from uuid import UUID

from events.reference import load_reference
from services.api.read_models.queries import OPEN, Conn, S, department_rates, merged_into_sql

_OPEN_SQL = "(" + ", ".join(f"'{s}'" for s in OPEN) + ")"


async def summary_report(
    conn: Conn, *, incident: UUID | None = None, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Volumes per hour, by category and by district; time to accept (from dispatch) and to resolve (from
    intake) per department and level; satisfaction; returns, escalations, reopenings, first-contact resolutions;
    satisfaction and reopen rates by resolving department; median handling time (call start to stored) by hour."""
    # An incident's complaints include those of the incidents merged into it (and into those): the ones a merge
    # did not move (ended before it) still belong to its after-action figures.
    scope = (
        f"($1::uuid IS NULL OR incident_id IN ({merged_into_sql('$1::uuid')})) "
        "AND ($2::timestamptz IS NULL OR received_at >= $2) AND ($3::timestamptz IS NULL OR received_at < $3)"
    )
    args = (incident, start, end)
    totals = await conn.fetchrow(
        f"SELECT count(*) AS received, count(*) FILTER (WHERE status IN {_OPEN_SQL}) AS open, "
        "count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved, "
        "count(*) FILTER (WHERE status = 'closed') AS closed, count(*) FILTER (WHERE status = 'rejected') AS rejected, "
        "count(*) FILTER (WHERE status = 'duplicate') AS duplicates, "
        "count(*) FILTER (WHERE first_contact) AS first_contact_resolutions, "
        "count(*) FILTER (WHERE return_count > 0) AS returned_complaints, COALESCE(sum(return_count), 0) AS returns, "
        "count(*) FILTER (WHERE escalation_level > 0) AS escalated_complaints, "
        "count(*) FILTER (WHERE escalation_level = 2) AS escalated_to_command, "
        "count(*) FILTER (WHERE reopen_count > 0) AS reopened_complaints, "
        "count(*) FILTER (WHERE media_exposure) AS media_exposure "
        f"FROM {S}.complaints WHERE {scope}",
        *args,
    )
    per_hour = await conn.fetch(
        f"SELECT date_trunc('hour', received_at) AS hour, count(*) AS received FROM {S}.complaints "
        f"WHERE {scope} GROUP BY 1 ORDER BY 1",
        *args,
    )
    by = {}
    for dimension in ("category", "district", "channel"):
        by[dimension] = [
            dict(r)
            for r in await conn.fetch(
                f"SELECT COALESCE({dimension}, 'unknown') AS {dimension}, count(*) AS received, "
                f"count(*) FILTER (WHERE status IN {_OPEN_SQL}) AS open, "
                "count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved "
                f"FROM {S}.complaints WHERE {scope} GROUP BY 1 ORDER BY 2 DESC, 1",
                *args,
            )
        ]
    timing = await conn.fetch(
        "SELECT department, COALESCE(level, 'unassessed') AS level, count(*) AS complaints, "
        "count(*) FILTER (WHERE accepted_at >= dispatched_at) AS accepted, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM accepted_at - dispatched_at) / 60) "
        "FILTER (WHERE accepted_at >= dispatched_at) AS median_minutes_to_accept, "
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM accepted_at - dispatched_at) / 60) "
        "FILTER (WHERE accepted_at >= dispatched_at) AS p90_minutes_to_accept, "
        "count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM resolved_at - received_at) / 60) "
        "FILTER (WHERE resolved_at IS NOT NULL) AS median_minutes_to_resolve, "
        "percentile_cont(0.9) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM resolved_at - received_at) / 60) "
        "FILTER (WHERE resolved_at IS NOT NULL) AS p90_minutes_to_resolve "
        f"FROM {S}.complaints WHERE department IS NOT NULL AND {scope} GROUP BY 1, 2 ORDER BY 1, 2",
        *args,
    )
    # Every answer follow-up calls got (a "not satisfied" reopens its case, which clears the latest answer).
    answered = await conn.fetchrow(
        "SELECT sum(answered_satisfied)::int AS satisfied, sum(answered_partly)::int AS partly_satisfied, "
        f"sum(answered_not_satisfied)::int AS not_satisfied FROM {S}.complaints WHERE {scope}",
        *args,
    )
    satisfaction = {answer: n for answer, n in (answered or {}).items() if n}
    return {
        "scope": {"incident": incident, "start": start, "end": end},
        "totals": dict(totals) if totals else {},
        "per_hour": [dict(r) for r in per_hour],
        "by_category": by["category"],
        "by_district": by["district"],
        "by_channel": by["channel"],
        "timing": [dict(r) for r in timing],
        "satisfaction": satisfaction,
        "follow_up_by_department": await department_rates(conn, scope, *args),
        "handling_time_by_hour": await handling_time_by_hour(conn, scope, *args),
    }


async def handling_time_by_hour(conn: Conn, where: str = "TRUE", *args: Any) -> list[dict[str, Any]]:
    """Per hour the call began: calls taken on the operator's card and the median seconds from the start of
    the call to the stored complaint. `where` narrows the complaints ($1.. are `args`)."""
    rows = await conn.fetch(
        "SELECT date_trunc('hour', call_started_at) AS hour, count(*) AS calls, "
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM received_at - call_started_at)) "
        f"AS median_seconds FROM {S}.complaints WHERE call_started_at IS NOT NULL "
        f"AND received_at >= call_started_at AND {where} GROUP BY 1 ORDER BY 1",
        *args,
    )
    return [dict(r) for r in rows]


def report_csv(report: dict[str, Any]) -> str:
    """One CSV of the report: section, dimension, value-of-dimension, metric, value."""
    out = io.StringIO()
    writer = csv.writer(out)
    city = load_reference().area.tz  # an hour as the city's staff read it: 08:00 Beijing time, not 00:00 UTC
    writer.writerow(["section", "dimension", "key", "metric", "value"])
    for metric, value in report["totals"].items():
        writer.writerow(["totals", "", "", metric, value])
    for row in report["per_hour"]:
        writer.writerow(
            ["per_hour", "hour", row["hour"].astimezone(city).isoformat(), "received", row["received"]]
        )
    for section, dimension in (
        ("by_category", "category"),
        ("by_district", "district"),
        ("by_channel", "channel"),
    ):
        for row in report[section]:
            for metric in ("received", "open", "resolved"):
                writer.writerow([section, dimension, row[dimension], metric, row[metric]])
    for row in report["timing"]:
        key = f"{row['department']}/{row['level']}"
        for metric, value in row.items():
            if metric not in ("department", "level"):
                writer.writerow(["timing", "department/level", key, metric, _number(value)])
    for answer, n in report["satisfaction"].items():
        writer.writerow(["satisfaction", "answer", answer, "answers", n])
    for row in report["follow_up_by_department"]:
        for metric, value in row.items():
            if metric != "department":
                writer.writerow(["follow_up_by_department", "department", row["department"], metric, value])
    for row in report["handling_time_by_hour"]:
        for metric in ("calls", "median_seconds"):
            writer.writerow(["handling_time_by_hour", "hour", row["hour"].astimezone(city).isoformat(), metric,
                             _number(row[metric])])  # fmt: skip
    return out.getvalue()


def _number(value: Any) -> Any:
    return round(value, 2) if isinstance(value, float) else value
