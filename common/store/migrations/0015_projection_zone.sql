-- What the projections were built with that the events do not say: for now the time zone
-- whose days daily_stats counts in (name 'timezone'). A process configured with another zone
-- refuses to start until `leadrelay rebuild` counts the days again and records the new one.
CREATE TABLE projection_settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
