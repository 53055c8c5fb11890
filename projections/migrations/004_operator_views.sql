-- Indexes and views for the operator's console; applied after a rebuild has loaded its rows.
CREATE INDEX complaints_caller_key ON complaints (caller_key, received_at DESC) WHERE caller_key IS NOT NULL;
CREATE INDEX complaints_follow_up ON complaints (level, resolved_at) WHERE status = 'resolved';

-- Resolved complaints waiting for their follow-up call (回访): P1 first, then the oldest resolution.
-- A redacted complaint has nobody left to call.
CREATE VIEW follow_up_queue AS
    SELECT id, tracking_code, category, district, level, resolved_by, resolved_at, first_contact,
           first_contact_answer, follow_up_attempts, reopen_count, escalation_level
    FROM complaints
    WHERE status = 'resolved' AND NOT redacted
    ORDER BY COALESCE(level, 'P9'), resolved_at, id;
