"""Which missed deadlines the watcher still has to record, and at what level.

The deadlines themselves are the domain's fold (events/deadlines.py), shared with the read model so the
board's "overdue" is what the watcher escalates.

The escalation rule: every missed deadline is recorded exactly once, by one ``ComplaintEscalated`` from the
watcher whose reason names the deadline (``missed accept-by deadline <due>``); folding that event marks the
deadline recorded, so no later look asks for it again. The n-th recorded miss is level n (1: department head,
2: command), never below the level the complaint already has and never above command: a complaint sent to
command at once (P1, media, mass impact) still records each missed deadline, at level 2. A miss noticed only
after the case was resolved or ended is history, not news: it is waived, not recorded.
"""

from __future__ import annotations

from datetime import datetime

from events.deadlines import DeadlineState
from services.dispatch.rules import COMMAND_LEVEL, Escalation


def escalations_due(state: DeadlineState, now: datetime) -> list[Escalation]:
    """One escalation per missed deadline not yet recorded, in order; levels per the module's rule."""
    if state.settled:
        return []
    level, misses, due = state.escalation_level, state.misses_recorded, []
    for deadline in state.unrecorded_misses(now):
        misses += 1
        level = min(COMMAND_LEVEL, max(level, misses))
        due.append(Escalation(level, deadline.reason))
    return due
