-- Events a worker set aside after repeated failures (the worker's record on `<prefix>.dlq.<worker>`), kept
-- where command staff can see them. One row per dead-letter message: `position` is that message's own place
-- in the stream, `event_position` and `event_subject` the failed event's. Columns only (a rebuild loads it).
CREATE TABLE dead_letters (
    position bigint PRIMARY KEY,
    worker text NOT NULL,
    event_position bigint,
    event_subject text,
    topic text,
    error text NOT NULL,
    attempts integer,
    at timestamptz
);
