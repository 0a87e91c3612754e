-- An unmatched payment that is not money of ours (a test deal, a CRM's demo data) can be
-- dismissed by a person, with when and why (who is in the audit log), and brought back: status
-- gains 'dismissed', so it no longer counts towards webhooks.max_unmatched_per_connection.
-- SQLite cannot change a CHECK in place: the table is built again, every row and id kept, and
-- its AUTOINCREMENT counter carried over (so an id is never given twice).
-- dialect: sqlite
ALTER TABLE unmatched_payments RENAME TO unmatched_payments_0007;
CREATE TABLE unmatched_payments (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    connection        TEXT NOT NULL,
    crm_ref           TEXT NOT NULL,       -- the CRM's lead id, or "deal:<id>" for a Bitrix24 deal
    amount            TEXT NOT NULL,
    currency          TEXT NOT NULL,
    paid_at           TEXT NOT NULL,
    received_at       TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'attached', 'dismissed')),
    lead_id           TEXT,
    attached_at       TEXT,
    dismissed_at      TEXT,
    dismissed_reason  TEXT,
    UNIQUE (connection, crm_ref)
);
INSERT INTO unmatched_payments
    (id, connection, crm_ref, amount, currency, paid_at, received_at, status, lead_id,
     attached_at)
SELECT id, connection, crm_ref, amount, currency, paid_at, received_at, status, lead_id,
       attached_at
FROM unmatched_payments_0007;
-- The old counter, not the copy's largest id: AUTOINCREMENT never gives a number twice.
DELETE FROM sqlite_sequence WHERE name = 'unmatched_payments';
UPDATE sqlite_sequence SET name = 'unmatched_payments' WHERE name = 'unmatched_payments_0007';
DROP TABLE unmatched_payments_0007;
CREATE INDEX unmatched_open ON unmatched_payments (received_at) WHERE status = 'open';
-- dialect: postgresql
ALTER TABLE unmatched_payments DROP CONSTRAINT unmatched_payments_status_check;
ALTER TABLE unmatched_payments ADD CONSTRAINT unmatched_payments_status_check
    CHECK (status IN ('open', 'attached', 'dismissed'));
ALTER TABLE unmatched_payments ADD COLUMN dismissed_at TEXT;
ALTER TABLE unmatched_payments ADD COLUMN dismissed_reason TEXT;
-- dialect: both
