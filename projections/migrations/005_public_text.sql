-- The complaint's description with personal data masked (issue 8, item 7): phone numbers, resident ID numbers,
-- emails and the reporter's own name and address, masked at intake where the name is still in clear (the
-- event keeps it sealed, so only intake can). The one column a public output may take free text from; none
-- does yet (patterns cannot find a neighbour's name or a flat number, so the description stays staff-only).
-- NULL on rows projected before this migration until a rebuild fills them.
ALTER TABLE complaints ADD COLUMN public_description text;
