-- /metrics reads runs started and closed since its last scrape, in this order: an index
-- scan from its cursor instead of a scan of every run at every scrape.
CREATE INDEX runbook_runs_started_idx ON runbook_runs (started_at, workflow_id, run_id);
CREATE INDEX runbook_runs_ended_idx ON runbook_runs (ended_at, workflow_id, run_id) WHERE ended_at IS NOT NULL;
