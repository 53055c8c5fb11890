"""Dispatch's own metrics: its deadline watcher. Defined here, not in services/runtime/metrics.py, so that only
dispatch exports them (every other process showed the watcher's last tick at 0: found by a review)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

DEADLINE_WATCHER_TICK = Gauge(
    "levee_deadline_watcher_last_tick_timestamp_seconds",
    "When dispatch's deadline watcher last folded the stream and looked for missed deadlines (Unix time)",
)

DEADLINE_WATCHER_BEHIND = Gauge(
    "levee_deadline_watcher_behind_messages",
    "Stream messages dispatch's deadline watcher has still to fold: after a restart it folds the whole stream "
    "(about 10 s per 400,000 messages on 2 cores), and a deadline among the unread is not escalated until then",
)

DEADLINE_CHECK_FAILURES = Counter(
    "levee_deadline_check_failures", "Deadline looks at a complaint that raised (retried later)"
)

DEADLINE_SHELVING_FAILURES = Counter(
    "levee_deadline_watcher_shelving_failures",
    "Shelvings of dispatch's deadline schedule that failed (tried again a minute later): while they fail, a "
    "restart folds more of the stream before it looks at deadlines again",
)
