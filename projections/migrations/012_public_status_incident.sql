-- The public status of a complaint names no incident, but the published notices about its incident are
-- what a caller most wants to read ("power back by 18:00"): the view carries the incident to look them up.
CREATE OR REPLACE VIEW public_status AS
    SELECT id, tracking_code, status, category, district, received_at, accepted_at, resolved_at, closed_at,
           updated_at, incident_id
    FROM complaints;
