-- The overview and the UTM report read counters only, never leads (issue 18): source_stats
-- gets the currency of its sales in its key ('' on the leads' rows), so a period's revenue
-- currencies are a range of its days; utm_medium_stats sums utm_stats over utm_campaign,
-- utm_content and utm_term, so the UTM report's two upper levels and the overview's lost
-- leads (by the day they came) read a few rows a day; an index takes the lower levels to
-- their source and medium; and a lead's open tasks are found by its id.
ALTER TABLE source_stats RENAME TO source_stats_0018;
-- dialect: postgresql
ALTER INDEX source_stats_pkey RENAME TO source_stats_0018_pkey;
-- dialect: both
CREATE TABLE source_stats (
    day            TEXT NOT NULL,  -- YYYY-MM-DD in the projection's zone
    campaign_id    TEXT NOT NULL,
    utm_source     TEXT NOT NULL,
    currency       TEXT NOT NULL,  -- the sales' (upper case, 'RUB' when none was given); ''
    leads          {{integer}} NOT NULL DEFAULT 0,
    repeat_leads   {{integer}} NOT NULL DEFAULT 0,
    payments       {{integer}} NOT NULL DEFAULT 0,
    revenue_minor  {{integer}} NOT NULL DEFAULT 0,
    PRIMARY KEY (day, campaign_id, utm_source, currency)
);
-- The leads' counts as they were (repeat leads are known from the events only), and the
-- sales counted again from the leads, by the currency they were paid in.
INSERT INTO source_stats (day, campaign_id, utm_source, currency, leads, repeat_leads)
SELECT day, campaign_id, utm_source, '', leads, repeat_leads FROM source_stats_0018
WHERE leads <> 0 OR repeat_leads <> 0;
-- dialect: sqlite
INSERT INTO source_stats (day, campaign_id, utm_source, currency, payments, revenue_minor)
SELECT local_day(paid_at, z.name), campaign_id, coalesce(utm_source, ''),
       upper(coalesce(nullif(payment_currency, ''), 'RUB')), count(*),
       sum(CAST(round(CAST(payment_amount AS REAL) * 100) AS INTEGER))
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
WHERE paid_at IS NOT NULL GROUP BY 1, 2, 3, 4;
-- dialect: postgresql
INSERT INTO source_stats (day, campaign_id, utm_source, currency, payments, revenue_minor)
SELECT to_char(paid_at::timestamptz AT TIME ZONE z.name, 'YYYY-MM-DD'), campaign_id,
       coalesce(utm_source, ''), upper(coalesce(nullif(payment_currency, ''), 'RUB')),
       count(*), sum(round(payment_amount::numeric * 100))::bigint
FROM leads, (SELECT coalesce((SELECT value FROM projection_settings WHERE name = 'timezone'),
                             'UTC') AS name) AS z
WHERE paid_at IS NOT NULL GROUP BY 1, 2, 3, 4;
-- dialect: both
DROP TABLE source_stats_0018;

CREATE TABLE utm_medium_stats (
    day            TEXT NOT NULL,  -- the leads' cohort, as in utm_stats
    campaign_id    TEXT NOT NULL,
    utm_source     TEXT NOT NULL,
    utm_medium     TEXT NOT NULL,
    currency       TEXT NOT NULL,
    leads          {{integer}} NOT NULL DEFAULT 0,
    lost           {{integer}} NOT NULL DEFAULT 0,
    sales          {{integer}} NOT NULL DEFAULT 0,
    revenue_minor  {{integer}} NOT NULL DEFAULT 0,
    PRIMARY KEY (day, campaign_id, utm_source, utm_medium, currency)
);
INSERT INTO utm_medium_stats (day, campaign_id, utm_source, utm_medium, currency, leads, lost,
                              sales, revenue_minor)
SELECT day, campaign_id, utm_source, utm_medium, currency, sum(leads), sum(lost), sum(sales),
       sum(revenue_minor)
FROM utm_stats GROUP BY day, campaign_id, utm_source, utm_medium, currency;
CREATE INDEX utm_stats_by_medium ON utm_stats (utm_source, utm_medium, day);

CREATE INDEX tasks_by_lead ON tasks (lead_id);
