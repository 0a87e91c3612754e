-- Who did what (issue 19): the dashboard's and the CLI's actions — logins and failed logins,
-- retries, erasures, exports, payments attached, problems acknowledged — with who, when and
-- from where. Append-only; read newest first. `details` is a JSON object of short texts
-- (never a secret, never a person's contact: a lead is named by its id).
CREATE TABLE audit_log (
    id        {{serial_key}},
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,          -- a dashboard user's name, "cli:<os user>", or "system"
    action    TEXT NOT NULL,          -- e.g. login, login_failed, retry, erase, export
    target    TEXT NOT NULL DEFAULT '',  -- what it was done to: a lead id, a task, a file
    address   TEXT NOT NULL DEFAULT '',  -- the client's address, or the host for the CLI
    details   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at);
