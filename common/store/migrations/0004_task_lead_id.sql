-- The lead a task is about, as a column: reads join on it instead of parsing JSON payloads.
ALTER TABLE tasks ADD COLUMN lead_id TEXT;

-- dialect: sqlite
UPDATE tasks SET lead_id = json_extract(payload, '$.lead_id');
-- dialect: postgresql
UPDATE tasks SET lead_id = payload::json ->> 'lead_id';
