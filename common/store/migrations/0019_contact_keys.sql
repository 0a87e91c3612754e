-- Contacts compared without case (issue 18): to the repeat check and the leads search
-- `Ivan@x.ru` is `ivan@x.ru`, and «ИВАН» is found as «иван». The projection keeps each lead's
-- e-mail and name folded beside them (common.contacts.fold: Python's lower(), Unicode's full
-- case mapping); the leads already stored get theirs here, folded the same way. SQLite's own
-- lower() folds ASCII letters alone, so on SQLite the migration calls that Python function,
-- registered on the migrating connection as fold_case. PostgreSQL's lower() folds as a
-- collation says: ICU's root collation maps case as Python does, whatever the database's own
-- locale (which may be "C", folding ASCII alone); a server built without ICU folds by the
-- database's locale. A row folded otherwise than the projection would is named by `leadrelay
-- verify`, and `leadrelay rebuild` writes it again.
ALTER TABLE leads ADD COLUMN email_key TEXT;
ALTER TABLE leads ADD COLUMN name_key TEXT;
-- dialect: sqlite
UPDATE leads SET email_key = fold_case(email), name_key = fold_case(name)
    WHERE email IS NOT NULL OR name IS NOT NULL;
-- dialect: postgresql
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu') THEN
        UPDATE leads SET email_key = lower(email COLLATE "und-x-icu"),
                         name_key = lower(name COLLATE "und-x-icu")
            WHERE email IS NOT NULL OR name IS NOT NULL;
    ELSE
        UPDATE leads SET email_key = lower(email), name_key = lower(name)
            WHERE email IS NOT NULL OR name IS NOT NULL;
    END IF;
END
$$;
-- dialect: both
-- The repeat check finds a recent lead by its folded e-mail (0008's index was on the e-mail
-- as sent, so `Ivan@` missed `ivan@`).
DROP INDEX leads_by_email;
CREATE INDEX leads_by_email ON leads (email_key, created_at) WHERE email_key IS NOT NULL;
