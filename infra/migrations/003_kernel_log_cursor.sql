-- Where a completed remediation stopped reading the node's kernel log
-- ({"boot_id": ..., "through": <newest Xid timestamp handled>}), so the node's
-- next run reads only newer Xid lines of the same boot.
ALTER TABLE runbook_runs ADD COLUMN kernel_log_cursor jsonb NULL;
CREATE INDEX runbook_runs_node_ended_idx ON runbook_runs (node_id, runbook, ended_at);
