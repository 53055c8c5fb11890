-- The complaint's deadlines as the deadline watcher folds them (events/deadlines.py): its small state, so each
-- event folds on from the row, and accept_by / resolve_by become the deadlines open now (NULL when none is).
-- Rows projected before this migration keep the assessment's times until `levee rebuild read_models`.
ALTER TABLE complaints ADD COLUMN deadline_state jsonb;
