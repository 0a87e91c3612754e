-- Dashboard logins the server still honours: logout deletes the row, so a copied session
-- cookie stops working at once instead of living out its 7 days.
CREATE TABLE dashboard_sessions (
    id          TEXT PRIMARY KEY,  -- SHA-256 of the random session id the cookie carries
    username    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
