-- The board lists what triage rejected lately (无效), newest first, for command to review and reinstate a wrong
-- rejection (ComplaintReinstated). A few per cent of the complaints: a partial index of them in that order, so
-- the panel reads its 20 rows and counts the last day's off it, not off every complaint.
CREATE INDEX complaints_rejected ON complaints (closed_at DESC, id DESC) WHERE status = 'rejected';
