-- Frozen test data: the sqlite_master of a database the SQLite migration files 0001-0011 built
-- before the one schema source (commit 73c8ad4). The tests build a database from it at
-- user_version 11, to prove an existing one still migrates to the schema of a new one;
-- never edit it.
CREATE TABLE events (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL CHECK (version >= 1),
    type        TEXT    NOT NULL,
    data        TEXT    NOT NULL,
    metadata    TEXT    NOT NULL DEFAULT '{}',
    created_at  TEXT    NOT NULL,
    UNIQUE (stream_id, version)
);
CREATE TABLE leads (
    id                 TEXT PRIMARY KEY,
    campaign_id        TEXT NOT NULL,
    status             TEXT NOT NULL,
    name               TEXT,
    phone              TEXT,
    email              TEXT,
    comment            TEXT,
    utm_source         TEXT,
    utm_medium         TEXT,
    utm_campaign       TEXT,
    utm_content        TEXT,
    utm_term           TEXT,
    yclid              TEXT,
    ym_client_id       TEXT,
    page_url           TEXT,
    referrer           TEXT,
    extra              TEXT NOT NULL DEFAULT '{}',
    crm_connection     TEXT,
    crm_lead_id        TEXT,
    last_error         TEXT,
    payment_amount     TEXT,
    payment_currency   TEXT,
    paid_at            TEXT,
    conversion_status  TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    version            INTEGER NOT NULL
, warnings TEXT NOT NULL DEFAULT '[]');
CREATE INDEX leads_by_created ON leads (created_at);
CREATE INDEX leads_by_status ON leads (status, created_at);
CREATE INDEX leads_by_crm_id ON leads (crm_connection, crm_lead_id);
CREATE TABLE campaign_stats (
    campaign_id           TEXT PRIMARY KEY,
    leads                 INTEGER NOT NULL DEFAULT 0,
    leads_delivered       INTEGER NOT NULL DEFAULT 0,
    delivery_failed       INTEGER NOT NULL DEFAULT 0,
    payments              INTEGER NOT NULL DEFAULT 0,
    revenue_minor         INTEGER NOT NULL DEFAULT 0,  -- kopecks (1/100 of the unit)
    lost                  INTEGER NOT NULL DEFAULT 0,
    conversions_uploaded  INTEGER NOT NULL DEFAULT 0
, conversions_linked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tasks (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    type          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    max_attempts  INTEGER NOT NULL,
    run_after     TEXT    NOT NULL,
    locked_until  TEXT,
    last_error    TEXT,
    result        TEXT,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
, lead_id TEXT);
CREATE TABLE idempotency_keys (
    key           TEXT PRIMARY KEY,
    request_hash  TEXT NOT NULL,
    response      TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX idempotency_by_age ON idempotency_keys (created_at);
CREATE TABLE webhook_receipts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE TABLE daily_stats (
    day            TEXT NOT NULL,  -- YYYY-MM-DD, UTC
    campaign_id    TEXT NOT NULL,
    leads          INTEGER NOT NULL DEFAULT 0,
    payments       INTEGER NOT NULL DEFAULT 0,
    revenue_minor  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, campaign_id)
);
CREATE INDEX leads_by_campaign_status ON leads (campaign_id, status, created_at);
CREATE INDEX tasks_pending ON tasks (run_after, id) WHERE status = 'pending';
CREATE INDEX tasks_processing ON tasks (locked_until, id) WHERE status = 'processing';
CREATE INDEX tasks_failed ON tasks (updated_at) WHERE status = 'failed';
CREATE TABLE unmatched_payments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX leads_by_phone ON leads (phone, created_at) WHERE phone IS NOT NULL;
CREATE INDEX leads_by_email ON leads (email, created_at) WHERE email IS NOT NULL;
CREATE TABLE reconcile_cursors (
    connection  TEXT PRIMARY KEY,
    cursor      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE TABLE dashboard_sessions (
    id          TEXT PRIMARY KEY,  -- SHA-256 of the random session id the cookie carries
    username    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
