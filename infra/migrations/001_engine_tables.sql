-- The engine's own tables: one row per runbook run, its steps, and the evidence it collected.
-- Applied by runMigrations() (activities/evidence/database.ts) inside a transaction;
-- do not add BEGIN/COMMIT here.

CREATE TABLE runbook_runs (
  workflow_id    text        NOT NULL,
  run_id         text        NOT NULL,
  runbook        text        NOT NULL,
  node_id        text        NULL,
  correlation_id text        NOT NULL,
  run_mode       text        NOT NULL,
  status         text        NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  outcome        text        NULL,
  cordoned_at    timestamptz NULL,
  input          jsonb       NOT NULL DEFAULT '{}'::jsonb,
  report         jsonb       NULL,
  trace_id       text        NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  ended_at       timestamptz NULL,
  PRIMARY KEY (workflow_id, run_id)
);
-- "When was this node last cordoned by this runbook?" (flap detection, cool-downs).
CREATE INDEX runbook_runs_node_runbook_cordoned_idx ON runbook_runs (node_id, runbook, cordoned_at);

CREATE TABLE runbook_steps (
  workflow_id text        NOT NULL,
  run_id      text        NOT NULL,
  seq         int         NOT NULL,
  name        text        NOT NULL,
  phase       text        NOT NULL,
  status      text        NOT NULL,
  attempt     int         NOT NULL DEFAULT 1,
  started_at  timestamptz NOT NULL DEFAULT now(),
  ended_at    timestamptz NULL,
  error       jsonb       NULL,
  detail      text        NULL,
  PRIMARY KEY (workflow_id, run_id, seq)
);

CREATE TABLE evidence (
  id              bigserial   PRIMARY KEY,
  -- Activities retry: the same piece of evidence is written once.
  idempotency_key text        NOT NULL UNIQUE,
  workflow_id     text        NOT NULL,
  run_id          text        NOT NULL,
  correlation_id  text        NOT NULL,
  trace_id        text        NULL,
  kind            text        NOT NULL CHECK (kind IN ('command', 'classification', 'diag', 'decision', 'alert', 'note')),
  host_name       text        NULL,
  host_role       text        NULL,
  node_id         text        NULL,
  summary         text        NOT NULL,
  data            jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX evidence_workflow_run_idx ON evidence (workflow_id, run_id);
CREATE INDEX evidence_correlation_idx ON evidence (correlation_id);
