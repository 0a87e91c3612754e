-- When reconciliation last asked the CRM about each paid lead's deal, so each round re-checks
-- the ones asked longest ago. A table of its own, not a column of `leads`: `leads` is a
-- projection of the events, and `verify` compares it with a replay that knows no such time.
CREATE TABLE payment_checks (
    lead_id     TEXT PRIMARY KEY,
    checked_at  TEXT NOT NULL
);
