-- Re-driving a dead letter (services/runtime/redrive.py): staff ask the worker to handle the event again, and
-- the row says what came of it. retry_state: NULL (never asked), pending, succeeded, failed (the retry failed
-- too and left a newer dead letter, at retry_failed_position, whose retry_of names this row), or ignored (the
-- worker found nothing to retry). retry_position is the latest request's place in the stream. Columns only.
ALTER TABLE dead_letters
    ADD COLUMN retry_state text,
    ADD COLUMN retry_position bigint,
    ADD COLUMN retry_requested_at timestamptz,
    ADD COLUMN retry_requested_by text,
    ADD COLUMN retry_succeeded_at timestamptz,
    ADD COLUMN retry_failed_at timestamptz,
    ADD COLUMN retry_failed_position bigint,
    ADD COLUMN retry_of bigint;
