-- Yandex Direct's costs, per day and Direct campaign: the projection of DIRECT_COST_REPORTED,
-- where a day's new report replaces the one before (verify checks it like the others).
CREATE TABLE direct_costs (
    day                 TEXT NOT NULL,  -- YYYY-MM-DD, the day as Direct reported it
    direct_campaign_id  TEXT NOT NULL,
    campaign_name       TEXT NOT NULL,
    impressions         {{integer}} NOT NULL,
    clicks              {{integer}} NOT NULL,
    cost_micros         {{integer}} NOT NULL,  -- the cost x 1,000,000: exact, as Direct counts it
    currency            TEXT NOT NULL,
    PRIMARY KEY (day, direct_campaign_id)
);

-- The cost report asks which currencies revenue is in: which ones any payment has (a seek
-- per currency), and only when there are several, those of a period's payments. Paid leads
-- only, so both stay small and are written only when a lead is paid.
CREATE INDEX leads_by_currency ON leads (payment_currency) WHERE paid_at IS NOT NULL;
CREATE INDEX leads_by_paid ON leads (paid_at, campaign_id, payment_currency)
    WHERE paid_at IS NOT NULL;
