-- Merged incidents (IncidentMerged): the incident an absorbed one ended in. NULL for every incident that
-- carries on; lists of incidents (the board, /api/v1/incidents) leave a merged one out by default.
ALTER TABLE incidents ADD COLUMN merged_into uuid;
