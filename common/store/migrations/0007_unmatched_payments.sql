-- Won deals a CRM reported that match none of our leads: kept until a person attaches them.
CREATE TABLE unmatched_payments (
    id           {{serial_key}},
    connection   TEXT NOT NULL,
    crm_ref      TEXT NOT NULL,            -- the CRM's lead id, or "deal:<id>" for a Bitrix24 deal
    amount       TEXT NOT NULL,
    currency     TEXT NOT NULL,
    paid_at      TEXT NOT NULL,
    received_at  TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'attached')),
    lead_id      TEXT,
    attached_at  TEXT,
    UNIQUE (connection, crm_ref)
);
CREATE INDEX unmatched_open ON unmatched_payments (received_at) WHERE status = 'open';
