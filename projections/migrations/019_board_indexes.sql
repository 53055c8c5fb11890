-- The command board at scale. A 30-minute soak (90,000 complaints, 72,000 of them open) took 0.8 s of
-- PostgreSQL per board, growing with every complaint: each panel read the whole table, 1.3 kB a row (the
-- triage factors and the deadline fold are most of it) for a few narrow columns.

-- Panels that list few rows find them by their own partial index: the requests for more time waiting on
-- command, and the deadlines passed (overdue_list asks `accept_by < now OR resolve_by < now`: the deadlines
-- open now, NULL once none is, projections/deadlines.py).
CREATE INDEX complaints_extension_pending ON complaints (id) WHERE extension_pending;
CREATE INDEX complaints_accept_by ON complaints (accept_by) WHERE accept_by IS NOT NULL;
CREATE INDEX complaints_resolve_by ON complaints (resolve_by) WHERE resolve_by IS NOT NULL;

-- Panels that count every complaint (by status, level and district; per department; per incident) read the
-- board's columns from this index, a tenth of the table, instead of every whole row.
CREATE INDEX complaints_board ON complaints (status, level, district) INCLUDE (
    lat, lon, accept_by, resolve_by, escalation_level, department, incident_id, extension_pending,
    received_at, dispatched_at, accepted_at, resolved_at, resolved_by, reopen_count,
    answered_satisfied, answered_partly, answered_not_satisfied, responsible
);

-- An index-only read skips a row's heap page only once VACUUM has marked the page all-visible: in a surge every
-- new or changed row is on such a page, and autovacuum's defaults (a fifth of the table changed) would leave
-- the newest tens of thousands to be read from the heap. Vacuumed after a fiftieth instead: at most once a
-- minute (autovacuum_naptime), and only the pages changed since.
ALTER TABLE complaints SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_insert_scale_factor = 0.02);
