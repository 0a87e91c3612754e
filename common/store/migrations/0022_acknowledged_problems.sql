-- Configuration problems an admin has acknowledged on the overview (issue 19): one row per
-- problem (`problem`: "webhook:amo", "credentials:amo" …). It stays hidden while the problem
-- says the same (`state`) and until `until`; a changed problem or a passed time shows it again.
CREATE TABLE acknowledged_problems (
    problem   TEXT PRIMARY KEY,
    state     TEXT NOT NULL,   -- what the problem said when acknowledged
    actor     TEXT NOT NULL,   -- who acknowledged it
    note      TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL,
    until     TEXT NOT NULL
);
