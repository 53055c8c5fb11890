-- The department queue at scale. Every open department page reads its queue every few seconds, and in the
-- soak's surge one department held 27,000 open cases of 90,000: its queue read all 90,000 whole rows (1.3 kB
-- each) to order them by deadline, 64-83 ms a read, per clerk. The index now carries what the order and the
-- count need, so services/api/read_models/queries.py's department_queue reads only the index and then the
-- cases it shows: 12 ms.
DROP INDEX complaints_department_status;
CREATE INDEX complaints_department_status ON complaints (department, status)
    INCLUDE (accept_by, resolve_by, received_at, id);
