"""Who wrote a reason: the system's writers, whose words stay after an erasure.

On erasure every free text a person typed about a case goes, for any of it may quote the caller; what the
system wrote stays (a deadline missed, a category route, triage's rejection). A reason is the system's when
its event's `by` is one of these (services/dispatch and its deadline watcher, services/triage); a person's
`by` is a token's name (services/api/tokens.py refuses these names for a token), or "role:name". The case's
history and the board's "why with command" (projections/timeline.py, complaints.py) decide by this one rule.
"""

from __future__ import annotations

from events.deadlines import WATCHER

SYSTEM_WRITERS = ("dispatch", WATCHER, "triage")
SQL_SYSTEM_WRITERS = "(" + ", ".join(f"'{writer}'" for writer in SYSTEM_WRITERS) + ")"  # for `by IN ...`
