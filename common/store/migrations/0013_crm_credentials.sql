-- A CRM connection's OAuth tokens (amoCRM: the access token lives 24 hours, the refresh token
-- works once): kept here so every dispatcher uses the one current pair. `version` goes up with
-- each new pair; `refreshing_until` is a refresher's claim, so one process at a time spends
-- the refresh token.
CREATE TABLE crm_credentials (
    connection        TEXT PRIMARY KEY,
    access_token      TEXT NOT NULL,
    refresh_token     TEXT NOT NULL,
    expires_at        TEXT NOT NULL,
    version           {{integer}} NOT NULL,
    refreshed_at      TEXT NOT NULL,
    refreshing_until  TEXT,
    last_error        TEXT
);
