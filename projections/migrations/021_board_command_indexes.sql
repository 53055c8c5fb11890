-- The command board at scale, continued (019 read the board's narrow columns off an index). On the soak's
-- database (90,063 complaints, 37,981 of them open with command) the panels of what is command's still read
-- every row with command to sort it by since when it is command's (escalated_to_command 67 ms,
-- escalated_individual 34 ms), and the per-department and per-incident figures sorted 80,000 index entries
-- by department or incident first (department_stats 62 ms, incidents 51 ms).

-- What is command's (queries._WITH_COMMAND: open, escalated to level 2 or in the command queue), in the order
-- the board lists it: since when it is command's (queries._SINCE, the later of its escalation to level 2 and
-- its dispatch to the command queue), newest first. The expression and the predicate must stay those of
-- queries.py, word for word in meaning, or the planner cannot use the index (tests/integration/projections/
-- test_board_plans.py checks that it does). The included columns answer the counts per incident and the
-- unassigned count from the index alone.
CREATE INDEX complaints_with_command ON complaints ((COALESCE(
    CASE
        WHEN COALESCE(department = 'command', false) AND queued_version IS NOT NULL
            AND (NOT escalation_level >= 2 OR escalated_version IS NULL OR queued_version > escalated_version)
        THEN queued_at
        WHEN escalation_level >= 2 THEN escalated_at
    END, received_at)) DESC, id DESC)
    INCLUDE (incident_id, department, level, accept_by, resolve_by, received_at, responsible)
    WHERE status IN ('received', 'validated', 'prioritised', 'dispatched', 'accepted', 'returned', 'reopened')
        AND (escalation_level >= 2 OR department = 'command');

-- The same, of the cases command decides one by one (in no incident, or in the command queue): a few of the
-- above, so the board's overdue-first list reads the first of each kind off it.
CREATE INDEX complaints_with_command_alone ON complaints ((COALESCE(
    CASE
        WHEN COALESCE(department = 'command', false) AND queued_version IS NOT NULL
            AND (NOT escalation_level >= 2 OR escalated_version IS NULL OR queued_version > escalated_version)
        THEN queued_at
        WHEN escalation_level >= 2 THEN escalated_at
    END, received_at)) DESC, id DESC)
    INCLUDE (accept_by, resolve_by)
    WHERE status IN ('received', 'validated', 'prioritised', 'dispatched', 'accepted', 'returned', 'reopened')
        AND (escalation_level >= 2 OR department = 'command')
        AND (incident_id IS NULL OR department = 'command');

-- Per department, in department order with the times its medians need: no sort of every case first.
DROP INDEX complaints_department_status;
CREATE INDEX complaints_department_status ON complaints (department, status)
    INCLUDE (accept_by, resolve_by, received_at, id, dispatched_at, accepted_at, resolved_at);

-- Per incident, in incident order with what its counts and centre need.
DROP INDEX complaints_incident;
CREATE INDEX complaints_incident ON complaints (incident_id)
    INCLUDE (status, level, accept_by, resolve_by, lat, lon)
    WHERE incident_id IS NOT NULL;

-- The follow-up rates per resolving department read the resolved cases only.
CREATE INDEX complaints_resolved_by ON complaints (resolved_by)
    INCLUDE (answered_satisfied, answered_partly, answered_not_satisfied, reopen_count)
    WHERE resolved_by IS NOT NULL;

-- (status, level) is the start of complaints_board (019): one index fewer to write at each change of status.
DROP INDEX complaints_status_level;
