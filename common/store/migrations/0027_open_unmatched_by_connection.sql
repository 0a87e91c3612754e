-- A connection's open unmatched payments are counted on every payment deferred past its cap
-- and, while /healthz reports it full, on every /healthz: an index of the open ones by their
-- connection makes that count one index range, however many attached or dismissed ones pile up.
CREATE INDEX unmatched_open_by_connection ON unmatched_payments (connection)
    WHERE status = 'open';
