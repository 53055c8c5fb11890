-- The named person responsible (责任人) for a complaint and for an incident, and since when: the board shows
-- which escalated cases and incidents nobody owns. NULL until someone is named (ComplaintResponsibleAssigned,
-- IncidentResponsibleAssigned); no event before this migration names anyone, so old rows are right as they are.
ALTER TABLE complaints ADD COLUMN responsible text, ADD COLUMN responsible_since timestamptz;
ALTER TABLE incidents ADD COLUMN responsible text, ADD COLUMN responsible_since timestamptz;
