-- Per-day, per-campaign counters for the dashboard's charts, kept in the write transaction.
CREATE TABLE daily_stats (
    day            TEXT NOT NULL,  -- YYYY-MM-DD, UTC
    campaign_id    TEXT NOT NULL,
    leads          {{integer}} NOT NULL DEFAULT 0,
    payments       {{integer}} NOT NULL DEFAULT 0,
    revenue_minor  {{integer}} NOT NULL DEFAULT 0,
    PRIMARY KEY (day, campaign_id)
);

-- Backfill from the projections that exist, by the rules the projector applies.
INSERT INTO daily_stats (day, campaign_id, leads)
SELECT substr(created_at, 1, 10), campaign_id, count(*) FROM leads GROUP BY 1, 2;

INSERT INTO daily_stats (day, campaign_id, payments, revenue_minor)
SELECT substr(paid_at, 1, 10), campaign_id, count(*),
       sum(CAST(round(CAST(payment_amount AS REAL) * 100) AS INTEGER))
FROM leads WHERE paid_at IS NOT NULL GROUP BY 1, 2
ON CONFLICT (day, campaign_id) DO UPDATE SET
    payments = daily_stats.payments + excluded.payments,
    revenue_minor = daily_stats.revenue_minor + excluded.revenue_minor;

-- The dashboard's "oldest pending task" is a lookup, not a scan of completed tasks.
CREATE INDEX tasks_by_status_created ON tasks (status, created_at);

-- The leads list filtered by campaign and status, newest first.
CREATE INDEX leads_by_campaign_status ON leads (campaign_id, status, created_at);
