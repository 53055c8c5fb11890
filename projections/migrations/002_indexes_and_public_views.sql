-- Indexes come after the tables so a rebuild can load first and index once (see projections/rebuild.py).
CREATE INDEX complaints_status_level ON complaints (status, level);
CREATE INDEX complaints_department_status ON complaints (department, status);
CREATE INDEX complaints_incident ON complaints (incident_id) WHERE incident_id IS NOT NULL;
CREATE INDEX complaints_received_at ON complaints (received_at DESC, id);
CREATE INDEX complaints_tracking_code ON complaints (tracking_code);
CREATE INDEX notices_published ON notices (published_at DESC) WHERE published_version > 0;

-- What the public may read: no description, coordinates, vulnerability or any other personal detail.
CREATE VIEW public_status AS
    SELECT id, tracking_code, status, category, district, received_at, accepted_at, resolved_at, closed_at,
           updated_at
    FROM complaints;

CREATE VIEW public_progress AS
    SELECT complaint_id, version, at, kind, detail ->> 'text' AS text
    FROM complaint_timeline
    WHERE public;
