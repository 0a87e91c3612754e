-- The UTM report's counters (issue 18): each lead counted once, on the row of its cohort (its
-- local creation day), its campaign, its five UTM values ('' for none) and the currency of its
-- sale ('' while unpaid; the payment's currency, upper case, 'RUB' when none was given): leads,
-- lost ones (status 'lost'), sales (paid leads) and their revenue in kopecks (a pending amount
-- counts none). A level of the report then reads a range of days, whatever the leads in it.
-- Days are the projection's zone (projection_settings; UTC when none was recorded).
CREATE TABLE utm_stats (
    day            TEXT NOT NULL,  -- YYYY-MM-DD in the projection's zone: the lead's cohort
    campaign_id    TEXT NOT NULL,
    utm_source     TEXT NOT NULL,
    utm_medium     TEXT NOT NULL,
    utm_campaign   TEXT NOT NULL,
    utm_content    TEXT NOT NULL,
    utm_term       TEXT NOT NULL,
    currency       TEXT NOT NULL,
    leads          {{integer}} NOT NULL DEFAULT 0,
    lost           {{integer}} NOT NULL DEFAULT 0,
    sales          {{integer}} NOT NULL DEFAULT 0,
    revenue_minor  {{integer}} NOT NULL DEFAULT 0,
    PRIMARY KEY (day, campaign_id, utm_source, utm_medium, utm_campaign, utm_content, utm_term,
                 currency)
);
-- dialect: sqlite
-- local_day(time, zone) is Python's (common.days.day_of), registered on the migrating
-- connection: SQLite has no time zones of its own.
INSERT INTO utm_stats (day, campaign_id, utm_source, utm_medium, utm_campaign, utm_content,
                       utm_term, currency, leads, lost, sales, revenue_minor)
SELECT local_day(created_at, z.name), campaign_id, coalesce(utm_source, ''),
       coalesce(utm_medium, ''), coalesce(utm_campaign, ''), coalesce(utm_content, ''),
       coalesce(utm_term, ''),
       CASE WHEN paid_at IS NULL THEN '' ELSE upper(coalesce(nullif(payment_currency, ''), 'RUB')) END,
       count(*), sum(CASE WHEN status = 'lost' THEN 1 ELSE 0 END),
       sum(CASE WHEN paid_at IS NULL THEN 0 ELSE 1 END),
       sum(CASE WHEN paid_at IS NULL THEN 0
                ELSE coalesce(CAST(round(CAST(payment_amount AS REAL) * 100) AS INTEGER), 0) END)
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
-- dialect: postgresql
INSERT INTO utm_stats (day, campaign_id, utm_source, utm_medium, utm_campaign, utm_content,
                       utm_term, currency, leads, lost, sales, revenue_minor)
SELECT to_char(created_at::timestamptz AT TIME ZONE z.name, 'YYYY-MM-DD'), campaign_id,
       coalesce(utm_source, ''), coalesce(utm_medium, ''), coalesce(utm_campaign, ''),
       coalesce(utm_content, ''), coalesce(utm_term, ''),
       CASE WHEN paid_at IS NULL THEN '' ELSE upper(coalesce(nullif(payment_currency, ''), 'RUB')) END,
       count(*), sum(CASE WHEN status = 'lost' THEN 1 ELSE 0 END),
       sum(CASE WHEN paid_at IS NULL THEN 0 ELSE 1 END),
       sum(CASE WHEN paid_at IS NULL THEN 0
                ELSE coalesce(round(payment_amount::numeric * 100), 0) END)::bigint
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;
-- dialect: both
