-- Every index is written on every insert: keep only those a query needs.
-- (campaign_id, created_at) is a prefix of leads_by_campaign_status, which serves both.
DROP INDEX leads_by_campaign;

-- The task indexes cover open tasks only. A completed task (nearly all of them) leaves
-- them, so they stay small however long the history, and the queries that name the
-- status need no INDEXED BY.
DROP INDEX tasks_due;
DROP INDEX tasks_leases;
DROP INDEX tasks_by_status_created;
CREATE INDEX tasks_pending ON tasks (run_after, id) WHERE status = 'pending';
CREATE INDEX tasks_processing ON tasks (locked_until, id) WHERE status = 'processing';
CREATE INDEX tasks_failed ON tasks (updated_at) WHERE status = 'failed';
