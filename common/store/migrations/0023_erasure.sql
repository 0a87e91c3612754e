-- Erasure of a person's data (issue 19): when a lead's personal data was erased, projected
-- from LEAD_ERASED (so `verify` covers it), and the leads retention still has to erase, found
-- by their age without reading the ones already done.
ALTER TABLE leads ADD COLUMN erased_at TEXT;
CREATE INDEX leads_to_erase ON leads (created_at) WHERE erased_at IS NULL;
