-- Every answer a follow-up call got, counted on its complaint for good. A "not satisfied" reopens the case and
-- the reopening clears `satisfaction`, so satisfaction rates counted only the callers who were content: a review
-- found 16 satisfied, 4 partly and 6 not satisfied in the stream, and the board said 80% where 62% was true.
ALTER TABLE complaints
    ADD COLUMN answered_satisfied integer NOT NULL DEFAULT 0,
    ADD COLUMN answered_partly integer NOT NULL DEFAULT 0,
    ADD COLUMN answered_not_satisfied integer NOT NULL DEFAULT 0;

-- Rows projected before this migration, from their timelines (a rebuild, `levee rebuild`, counts them anew).
UPDATE complaints c
SET answered_satisfied = a.satisfied, answered_partly = a.partly, answered_not_satisfied = a.not_satisfied
FROM (
    SELECT complaint_id,
           count(*) FILTER (WHERE detail ->> 'satisfaction' = 'satisfied') AS satisfied,
           count(*) FILTER (WHERE detail ->> 'satisfaction' = 'partly_satisfied') AS partly,
           count(*) FILTER (WHERE detail ->> 'satisfaction' = 'not_satisfied') AS not_satisfied
    FROM complaint_timeline
    WHERE kind = 'FollowUpRecorded' AND (detail ->> 'contacted')::boolean
    GROUP BY complaint_id
) a
WHERE c.id = a.complaint_id;
