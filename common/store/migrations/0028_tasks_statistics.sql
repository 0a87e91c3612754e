-- A claim reads the due tasks in due order from their partial index (tasks_pending) and stops
-- at its limit; PostgreSQL's planner takes that path only while its statistics know how many
-- tasks are pending, and otherwise reads every due task and sorts them, on each claim. By
-- default a table is analysed once a tenth of its rows changed: every task is kept, so behind
-- a backlog of tens of thousands (a CRM down for an hour) the claims would run on statistics
-- from before it. Here `tasks` is analysed once 5,000 of its rows changed (a lead changes its
-- task about three times), at most once per autovacuum round (a minute by default).
-- dialect: postgresql
ALTER TABLE tasks SET (autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);
