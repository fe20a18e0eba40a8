-- Plans made by plan-mode runs, by hash. A live run that carries a plan_hash is
-- compared with the plan stored here; a drifted world is refused with a diff.
CREATE TABLE runbook_plans (
  plan_hash    text        PRIMARY KEY,
  runbook      text        NOT NULL,
  node_id      text        NULL,
  workflow_id  text        NOT NULL,
  plan         jsonb       NOT NULL,
  lines        jsonb       NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runbook_plans_node_idx ON runbook_plans (runbook, node_id, created_at DESC);

-- A plan is evidence of its own kind: what a run would do, or the drift that stopped it.
ALTER TABLE evidence DROP CONSTRAINT evidence_kind_check;
ALTER TABLE evidence ADD CONSTRAINT evidence_kind_check CHECK (kind IN ('command', 'classification', 'diag', 'decision', 'alert', 'note', 'plan'));
