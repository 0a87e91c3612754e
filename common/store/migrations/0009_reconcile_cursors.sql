-- How far each CRM connection's reconciliation has read (the last DATE_MODIFY seen).
CREATE TABLE reconcile_cursors (
    connection  TEXT PRIMARY KEY,
    cursor      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
