-- Every authenticated CRM webhook, kept for audit; message_id deduplicates signed redeliveries.
CREATE TABLE webhook_receipts (
    id           {{serial_key}},
    connection   TEXT NOT NULL,
    message_id   TEXT,
    received_at  TEXT NOT NULL,
    outcome      TEXT NOT NULL,
    lead_id      TEXT,
    detail       TEXT NOT NULL DEFAULT '{}',
    body         TEXT NOT NULL,
    UNIQUE (connection, message_id)
);
CREATE INDEX webhook_receipts_by_time ON webhook_receipts (received_at);
