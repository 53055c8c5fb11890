-- Who sent a case to command (the `by` of the latest escalation to level 2 or above, and of the latest dispatch
-- to the command queue), beside why. An erasure keeps the reason only when the system wrote it (dispatch, its
-- deadline watcher, triage), as the case's history does: it decided by the reason's wording, so a person's
-- words that began like the system's ("major complaint: ...") stayed on the board after the erasure.
ALTER TABLE complaints ADD COLUMN escalated_by text, ADD COLUMN queued_by text;

-- Rows projected before this migration: from the timeline row of that escalation or dispatch.
UPDATE complaints c SET escalated_by = t.detail ->> 'by'
FROM complaint_timeline t
WHERE t.complaint_id = c.id AND t.version = c.escalated_version AND c.escalated_version IS NOT NULL;

UPDATE complaints c SET queued_by = t.detail ->> 'by'
FROM complaint_timeline t
WHERE t.complaint_id = c.id AND t.version = c.queued_version AND c.queued_version IS NOT NULL;

-- Rows erased before this migration were erased by the reasons' wording: a person's reason that began like the
-- system's stayed. Erased again by who wrote it, as ComplaintRedacted now does (projections/complaints.py); a
-- person's step the old erasure kept ("reopened 2 times", "life first: caller transferred to 119") stays.
UPDATE complaints SET escalated_why = 'escalated by hand (its reason was erased with the personal data)'
WHERE redacted AND escalated_why IS NOT NULL
  AND (escalated_by IS NULL OR escalated_by NOT IN ('dispatch', 'deadline_watcher', 'triage')
       OR escalated_why LIKE 'reopened %')
  AND escalated_why !~ '^(reopened [0-9]+ times|life first: caller transferred to [0-9]+)$'
  AND escalated_why NOT LIKE 'escalated by hand %';

UPDATE complaints SET queued_why = 'sent to command by hand (its reason was erased with the personal data)'
WHERE redacted AND queued_why IS NOT NULL
  AND (queued_by IS NULL OR queued_by NOT IN ('dispatch', 'deadline_watcher', 'triage'))
  AND queued_why NOT LIKE 'sent to command by hand %';
