-- The event log, its two projections, the task outbox and idempotency keys.
CREATE TABLE events (
    position    {{serial_key}},
    stream_id   TEXT    NOT NULL,
    version     {{integer}} NOT NULL CHECK (version >= 1),
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
    version            {{integer}} NOT NULL
);
CREATE INDEX leads_by_created ON leads (created_at);
CREATE INDEX leads_by_campaign ON leads (campaign_id, created_at);
CREATE INDEX leads_by_status ON leads (status, created_at);
CREATE INDEX leads_by_crm_id ON leads (crm_connection, crm_lead_id);

CREATE TABLE campaign_stats (
    campaign_id           TEXT PRIMARY KEY,
    leads                 {{integer}} NOT NULL DEFAULT 0,
    leads_delivered       {{integer}} NOT NULL DEFAULT 0,
    delivery_failed       {{integer}} NOT NULL DEFAULT 0,
    payments              {{integer}} NOT NULL DEFAULT 0,
    revenue_minor         {{integer}} NOT NULL DEFAULT 0,  -- kopecks (1/100 of the unit)
    lost                  {{integer}} NOT NULL DEFAULT 0,
    conversions_uploaded  {{integer}} NOT NULL DEFAULT 0
);

CREATE TABLE tasks (
    id            {{serial_key}},
    type          TEXT    NOT NULL,
    payload       TEXT    NOT NULL,
    status        TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    attempts      {{integer}} NOT NULL DEFAULT 0,
    max_attempts  {{integer}} NOT NULL,
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

-- dialect: postgresql
-- Dispatchers on other hosts wake when a task is queued or falls due again (LISTEN
-- leadrelay_tasks), instead of polling; polling stays as the fallback.
CREATE FUNCTION leadrelay_notify_tasks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('leadrelay_tasks', '');
    RETURN NULL;
END $$;
CREATE TRIGGER tasks_changed AFTER INSERT OR UPDATE OF status ON tasks
    FOR EACH STATEMENT EXECUTE FUNCTION leadrelay_notify_tasks();

-- Rate limits shared by every dispatcher: one token bucket per CRM connection. (SQLite
-- serves one host, where each dispatcher's limiter lives in its own memory.)
CREATE TABLE rate_buckets (
    name        TEXT PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
