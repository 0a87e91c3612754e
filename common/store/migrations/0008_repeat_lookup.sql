-- A repeat submission is found by its phone or email among recent leads.
CREATE INDEX leads_by_phone ON leads (phone, created_at) WHERE phone IS NOT NULL;
CREATE INDEX leads_by_email ON leads (email, created_at) WHERE email IS NOT NULL;
