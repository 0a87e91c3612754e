-- The event log, its two projections, the task outbox and idempotency keys.
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
);
CREATE INDEX leads_by_created ON leads (created_at);
CREATE INDEX leads_by_campaign ON leads (campaign_id, created_at);
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
);

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
);
CREATE INDEX tasks_due ON tasks (status, run_after);
CREATE INDEX tasks_leases ON tasks (status, locked_until);

CREATE TABLE idempotency_keys (
    key           TEXT PRIMARY KEY,
    request_hash  TEXT NOT NULL,
    response      TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE INDEX idempotency_by_age ON idempotency_keys (created_at);
