-- Who drafted a notice, kept as drafted: `author` follows whoever last revised or updated it. The feeds find an
-- incident's progress summary published before another by it (services/api/feeds.py), and a summary press
-- corrected is still the notices service's summary (found by a review: the chain skipped a corrected one).
ALTER TABLE notices ADD COLUMN drafted_by text;

-- Rows projected before this migration: their author, the drafter unless press revised or updated the notice
-- since (a rebuild, `levee rebuild`, sets every row from its NoticeDrafted).
UPDATE notices SET drafted_by = author;
