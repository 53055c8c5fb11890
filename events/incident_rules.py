"""The rules of merging incidents: checks that raise DomainError or return (the aggregate stays a list of facts).

Two incidents that turn out to be one event (a burst main reported as a water outage, a flood and a blocked
road; one event's first reports landing far apart) are merged: the absorbed one ends, the target carries on
with every complaint of both. A merged incident is history: nothing more happens to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from events.errors import require, require_text

if TYPE_CHECKING:
    from events.incident import Incident

# Complaint ids per IncidentAbsorbed event. Whoever moves the complaints (triage) does it per event, and one
# event's moves must fit in one atomic batch with room to spare (the worker commits at MAX_BATCH - 200).
ABSORB_PART = 200


def check_not_merged(incident: Incident) -> None:
    merged_into = getattr(incident, "merged_into", None)  # a snapshot from before merges has no such field
    require(
        merged_into is None,
        "incident_merged",
        f"The incident was merged into {merged_into}; act on that one.",
    )


def check_merge(source: Incident, target: Incident, by: str, reason: str) -> None:
    require(
        source.id != target.id, "merge_into_itself", "An incident cannot be merged into itself.", field="into"
    )
    check_not_merged(source)
    require(
        getattr(target, "merged_into", None) is None,
        "target_merged",
        f"The target incident was itself merged into {getattr(target, 'merged_into', None)}; merge into that one.",
    )
    require(
        target.status != "resolved",
        "target_resolved",
        "The target incident is resolved; move its status back before merging into it.",
    )
    require_text(by, "by")
    require_text(reason, "reason")
