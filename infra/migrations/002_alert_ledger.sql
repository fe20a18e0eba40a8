-- The API's record of alert triggers, so that a storm of repeated alerts costs one row
-- update each instead of a Temporal signal each, and so that every API process agrees on
-- what was already delivered. Written only by the API (api/alert-ledger.ts).

-- The runs the API started or found open, per workflow id. The most recently checked row
-- is the run a repeated alert joins, as long as it is still open.
CREATE TABLE alert_runs (
  workflow_id    text        NOT NULL,
  run_id         text        NOT NULL,
  -- Alert key of the trigger that started the run (NULL when it was started outside the API).
  start_key      text        NULL,
  -- Alert keys signalled to this run; capped so a run never nears Temporal's signal limit.
  delivered_keys int         NOT NULL DEFAULT 0,
  -- Last time Temporal said this run was open.
  checked_at     timestamptz NOT NULL DEFAULT now(),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, run_id)
);
CREATE INDEX alert_runs_workflow_checked_idx ON alert_runs (workflow_id, checked_at DESC);

-- One row per run and alert key: what happened to the first alert with that key, and
-- counts of every alert with that key the run was sent.
CREATE TABLE alert_ledger (
  workflow_id text        NOT NULL,
  run_id      text        NOT NULL,
  alert_key   text        NOT NULL,
  xid         int         NULL,
  -- started: the key that started the run; pending: being delivered by claimed_by;
  -- delivered: signalled; failed: a delivery failed, the next alert retries it;
  -- over_cap: the run had its fill of keys; cooldown: only seen after the run closed.
  delivery    text        NOT NULL CHECK (delivery IN ('started', 'pending', 'delivered', 'failed', 'over_cap', 'cooldown')),
  claimed_by  text        NULL,
  claimed_at  timestamptz NULL,
  -- Every alert with this key attributed to the run, the first one included.
  received    int         NOT NULL DEFAULT 0,
  -- Of those: repeats of a key the run already has, answered without a signal.
  coalesced   int         NOT NULL DEFAULT 0,
  -- Of those: alerts of a key refused because the run had its fill.
  over_cap    int         NOT NULL DEFAULT 0,
  -- Of those: alerts that arrived after the run closed, within the cool-down.
  cooldown    int         NOT NULL DEFAULT 0,
  first_at    timestamptz NOT NULL DEFAULT now(),
  last_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workflow_id, run_id, alert_key)
);

-- "The latest run for this workflow id", read for the cool-down of every alert that finds no open run.
CREATE INDEX runbook_runs_workflow_started_idx ON runbook_runs (workflow_id, started_at DESC);
