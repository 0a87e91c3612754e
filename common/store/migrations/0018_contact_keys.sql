-- Contacts compared without case (issue 18): to the repeat check and the leads search
-- `Ivan@x.ru` is `ivan@x.ru`, and «ИВАН» is found as «иван». The projection keeps each lead's
-- e-mail and name folded beside them (common.contacts.fold, Python's lower(), which folds every
-- alphabet); the leads already stored get theirs here. On SQLite that is the same Python
-- function, registered on the migrating connection as fold_case (SQLite's own lower() folds
-- ASCII letters alone); on PostgreSQL it is lower(), which folds as the database's locale
-- says: for a UTF-8 locale the same as Python for the letters of names and e-mails. A row where
-- the two differ is named by `leadrelay verify`, and `leadrelay rebuild` writes it again.
ALTER TABLE leads ADD COLUMN email_key TEXT;
ALTER TABLE leads ADD COLUMN name_key TEXT;
-- dialect: sqlite
UPDATE leads SET email_key = fold_case(email), name_key = fold_case(name)
    WHERE email IS NOT NULL OR name IS NOT NULL;
-- dialect: postgresql
UPDATE leads SET email_key = lower(email), name_key = lower(name)
    WHERE email IS NOT NULL OR name IS NOT NULL;
-- dialect: both
-- The repeat check finds a recent lead by its folded e-mail (0008's index was on the e-mail
-- as sent, so `Ivan@` missed `ivan@`).
DROP INDEX leads_by_email;
CREATE INDEX leads_by_email ON leads (email_key, created_at) WHERE email_key IS NOT NULL;
