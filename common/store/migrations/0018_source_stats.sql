-- The overview's counters per day, campaign and utm_source (issue 18): leads, repeat leads
-- (a phone or e-mail seen on an earlier lead, decided at intake and kept in LEAD_CREATED),
-- sales and revenue, so a period filtered by source costs what the unfiltered one does: a
-- range of days, whatever the number of leads in it. utm_source '' is a lead without one.
-- Days are the projection's zone (projection_settings; UTC when none was recorded, as
-- daily_stats counted then). Leads stored before this have no repeat flag in their events:
-- they count as first leads here as in a replay.
CREATE TABLE source_stats (
    day            TEXT NOT NULL,  -- YYYY-MM-DD in the projection's zone
    campaign_id    TEXT NOT NULL,
    utm_source     TEXT NOT NULL,
    leads          {{integer}} NOT NULL DEFAULT 0,
    repeat_leads   {{integer}} NOT NULL DEFAULT 0,
    payments       {{integer}} NOT NULL DEFAULT 0,
    revenue_minor  {{integer}} NOT NULL DEFAULT 0,
    PRIMARY KEY (day, campaign_id, utm_source)
);
-- dialect: sqlite
-- local_day(time, zone) is Python's (common.days.day_of), registered on the migrating
-- connection: SQLite has no time zones of its own.
INSERT INTO source_stats (day, campaign_id, utm_source, leads)
SELECT local_day(created_at, z.name), campaign_id, coalesce(utm_source, ''), count(*)
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
GROUP BY 1, 2, 3;
INSERT INTO source_stats (day, campaign_id, utm_source, payments, revenue_minor)
SELECT local_day(paid_at, z.name), campaign_id, coalesce(utm_source, ''), count(*),
       sum(CAST(round(CAST(payment_amount AS REAL) * 100) AS INTEGER))
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
WHERE paid_at IS NOT NULL GROUP BY 1, 2, 3
ON CONFLICT (day, campaign_id, utm_source) DO UPDATE SET
    payments = source_stats.payments + excluded.payments,
    revenue_minor = source_stats.revenue_minor + excluded.revenue_minor;
-- dialect: postgresql
INSERT INTO source_stats (day, campaign_id, utm_source, leads)
SELECT to_char(created_at::timestamptz AT TIME ZONE z.name, 'YYYY-MM-DD'), campaign_id,
       coalesce(utm_source, ''), count(*)
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
GROUP BY 1, 2, 3;
INSERT INTO source_stats (day, campaign_id, utm_source, payments, revenue_minor)
SELECT to_char(paid_at::timestamptz AT TIME ZONE z.name, 'YYYY-MM-DD'), campaign_id,
       coalesce(utm_source, ''), count(*), sum(round(payment_amount::numeric * 100))::bigint
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
WHERE paid_at IS NOT NULL GROUP BY 1, 2, 3
ON CONFLICT (day, campaign_id, utm_source) DO UPDATE SET
    payments = source_stats.payments + excluded.payments,
    revenue_minor = source_stats.revenue_minor + excluded.revenue_minor;
-- dialect: both
