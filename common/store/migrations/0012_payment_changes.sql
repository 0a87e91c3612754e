-- A payment whose amount the CRM has not given yet, and the CRM deal that paid a lead (a
-- Bitrix24 deletion names the deal only, so the lead is found by it).
ALTER TABLE leads ADD COLUMN payment_pending {{integer}} NOT NULL DEFAULT 0;
ALTER TABLE leads ADD COLUMN payment_deal_id TEXT;
CREATE INDEX leads_by_payment_deal ON leads (crm_connection, payment_deal_id)
    WHERE payment_deal_id IS NOT NULL;
