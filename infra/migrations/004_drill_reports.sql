-- One row per drill run: what was injected, what the runbook did, and whether
-- that was what the drill expected. Written once, by the drill workflow.
CREATE TABLE drill_reports (
  id                  bigserial PRIMARY KEY,
  drill_id            text        NOT NULL,
  workflow_id         text        NOT NULL,
  run_id              text        NOT NULL,
  runbook             text        NOT NULL,
  scenario            text        NOT NULL,
  node_id             text        NOT NULL,
  expected            text        NOT NULL,
  outcome             text        NOT NULL,
  passed              boolean     NOT NULL,
  time_to_detect_ms   integer     NULL,
  time_to_recover_ms  integer     NULL,
  report              jsonb       NOT NULL,
  started_at          timestamptz NOT NULL,
  ended_at            timestamptz NOT NULL,
  UNIQUE (workflow_id, run_id)
);
CREATE INDEX drill_reports_drill_idx ON drill_reports (drill_id, ended_at DESC);
