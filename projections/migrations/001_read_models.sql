-- Read models of the complaint work orders, incidents and notices. Every row is derived from events:
-- drop the schema and replay, and the same rows come back. Applied with search_path set to the target schema.

-- The runner's position, in the same schema (and the same transaction) as the rows it produced.
CREATE TABLE projection_tracking (
    name text PRIMARY KEY,
    position bigint NOT NULL
);

-- Staff view of each complaint. Sealed personal data (reporter_sealed, contact_hash) is never copied here.
CREATE TABLE complaints (
    id uuid PRIMARY KEY,
    tracking_code text NOT NULL,
    status text NOT NULL,
    channel text NOT NULL,
    category text,
    district text,
    lat double precision,
    lon double precision,
    people_affected integer NOT NULL DEFAULT 0,
    vulnerable text[] NOT NULL DEFAULT '{}',
    media_exposure boolean NOT NULL DEFAULT false,
    description text NOT NULL DEFAULT '',
    level text,
    score integer,
    factors jsonb NOT NULL DEFAULT '[]',
    department text,
    incident_id uuid,
    duplicate_of uuid,
    received_at timestamptz NOT NULL,
    dispatched_at timestamptz,
    accepted_at timestamptz,
    resolved_at timestamptz,
    closed_at timestamptz,
    accept_by timestamptz,
    resolve_by timestamptz,
    agreed_resolution_at timestamptz,
    escalation_level integer NOT NULL DEFAULT 0,
    dispatch_count integer NOT NULL DEFAULT 0,
    return_count integer NOT NULL DEFAULT 0,
    reopen_count integer NOT NULL DEFAULT 0,
    repeat_calls integer NOT NULL DEFAULT 0,
    follow_up_attempts integer NOT NULL DEFAULT 0,
    extension_pending boolean NOT NULL DEFAULT false,
    extensions_granted integer NOT NULL DEFAULT 0,
    satisfaction text,
    first_contact boolean NOT NULL DEFAULT false,
    resolved_by text,
    redacted boolean NOT NULL DEFAULT false,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL
);

-- Every complaint event, for the detail view, public progress and the summary report.
CREATE TABLE complaint_timeline (
    complaint_id uuid NOT NULL,
    version integer NOT NULL,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    department text,
    public boolean NOT NULL DEFAULT false,
    detail jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (complaint_id, version)
);

-- Complaints received per district x category x hour: spikes and the per-hour volumes of the report.
CREATE TABLE hotspots (
    district text NOT NULL,
    category text NOT NULL,
    hour timestamptz NOT NULL,
    received integer NOT NULL,
    PRIMARY KEY (hour, district, category)
);

CREATE TABLE incidents (
    id uuid PRIMARY KEY,
    title text NOT NULL,
    kind text NOT NULL,
    districts text[] NOT NULL DEFAULT '{}',
    status text NOT NULL,
    declared_by text NOT NULL,
    declared_at timestamptz NOT NULL,
    linked_complaints integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL
);

-- The working text (title_*, body_*, status) and, apart, the text the public sees (public_*).
CREATE TABLE notices (
    id uuid PRIMARY KEY,
    incident_id uuid,
    state text NOT NULL,
    status text NOT NULL,
    title_en text NOT NULL,
    title_zh text NOT NULL,
    body_en text NOT NULL,
    body_zh text NOT NULL,
    author text NOT NULL,
    approved_by text,
    public_title_en text,
    public_title_zh text,
    public_body_en text,
    public_body_zh text,
    public_status text,
    published_version integer NOT NULL DEFAULT 0,
    first_published_at timestamptz,
    published_at timestamptz,
    cancelled_at timestamptz,
    drafted_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
