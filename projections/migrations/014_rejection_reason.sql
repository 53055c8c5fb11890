-- Why a complaint was not accepted (无效), in the words triage tells the caller (ComplaintRejected.reason). Rows
-- written before keep NULL until a rebuild (`levee rebuild read_models`).
ALTER TABLE complaints ADD COLUMN rejection_reason text;
