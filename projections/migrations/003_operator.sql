-- The hotline operator's facts (issue 8). Columns only, so a rebuild creates them before it loads rows.
--
-- caller_key: sha256 of the complaint's keyed contact hash (HMAC of the number with the deployment's secret),
-- never the number and not the event's hash itself: the operator's caller history looks it up by
-- recomputing both from the number the caller gives.
ALTER TABLE complaints
    ADD COLUMN caller_key text,
    ADD COLUMN call_started_at timestamptz,
    ADD COLUMN first_contact_answer text,
    ADD COLUMN emergency_service text,
    ADD COLUMN emergency_transferred_at timestamptz;
