-- The public status shows why a complaint was not accepted: a citizen who filed on the web, with no phone to be
-- called back on, learns why and what to do (DOMAIN: invalid "with the reason told to the caller").
CREATE OR REPLACE VIEW public_status AS
    SELECT id, tracking_code, status, category, district, received_at, accepted_at, resolved_at, closed_at,
           updated_at, incident_id, rejection_reason
    FROM complaints;
