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
