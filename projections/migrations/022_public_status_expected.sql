-- The public status says by when the case is expected to be dealt with: the resolve-by the deadline watcher
-- holds now (NULL once resolved, or before triage set one), as Open311's expected_datetime already does. A
-- resident saw a label and no next step or time (found by a review of the public pages).
CREATE OR REPLACE VIEW public_status AS
    SELECT id, tracking_code, status, category, district, received_at, accepted_at, resolved_at, closed_at,
           updated_at, incident_id, rejection_reason, resolve_by AS expected_by
    FROM complaints;
