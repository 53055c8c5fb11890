"""The notices service's own metrics (only it exports them)."""

from __future__ import annotations

from prometheus_client import Counter

SUMMARY_CHECKS_FAILED = Counter(
    "levee_summary_checks_failed",
    "Incidents the summary scheduler skipped because their history could not be read (a poison event)",
)
