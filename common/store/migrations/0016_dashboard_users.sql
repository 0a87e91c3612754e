-- Named dashboard users (issue 18): admins, and staff who work with leads but do not change
-- settings. A password is kept only as a scrypt hash. A session remembers its user's role, so
-- what a request may do (and, later, who did what) is read from the server's own row; the
-- sessions opened before this migration were the one shared login, an admin.
CREATE TABLE dashboard_users (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    password_hash  TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
ALTER TABLE dashboard_sessions ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
-- dialect: postgresql
-- Secrets leadrelay made itself (the dashboard's session key when none is configured): one
-- row every dashboard on every host reads, so a cookie signed on one host opens on another
-- and a restart, even in a new container, logs nobody out. SQLite keeps such a secret in a
-- file beside the database instead (one host, and no copy inside the database's own file).
CREATE TABLE generated_secrets (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
-- dialect: both
