import { performance } from 'node:perf_hooks';
import type { Pool } from 'pg';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { GpuFaultOutcome } from '../../runbooks/gpu-fault-remediation/input';
import { findRunbook, runbookNames } from '../runbook-registry';

/** Outcomes that mean the run gave its node back to service: what time to recover measures. */
export const RECOVERED_OUTCOMES: ReadonlySet<string> = new Set(['returned_to_service'] satisfies GpuFaultOutcome[]);

/**
 * Rows are counted once they are this old. A row's timestamp is taken when its statement
 * starts and the row becomes visible when it commits, a moment later: a row committed after
 * a later-stamped one was already read would sit behind the cursor and never be counted.
 */
export const SETTLE_MS = 5_000;
/** Rows per query. A scrape reads at most MAX_BATCHES batches per stream and leaves the rest to the next one. */
const BATCH_ROWS = 500;
const MAX_BATCHES = 10;

const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 86400];
const STEP_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 14400];
const APPROVAL_BUCKETS = [10, 30, 60, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];

/** Where a stream was read up to: the sort key of the last row counted (`at` null: nothing counted yet). */
interface Cursor {
  at: string | null;
  workflowId: string;
  runId: string;
}

interface StartedRow {
  workflow_id: string;
  run_id: string;
  runbook: string;
  run_mode: string;
  at: string;
}

interface ClosedRow extends StartedRow {
  outcome: string;
  seconds: number;
  approvals: unknown;
}

interface StepRow {
  workflow_id: string;
  run_id: string;
  name: string;
  status: string;
  seconds: number;
}

/** A timestamp as exact text (microseconds, UTC), so a cursor compares equal to the row it came from. */
const exact = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * Rows after the cursor, settled, in cursor order. Before the first row the cursor is the
 * moment the API started, on the database's clock: now() less the API's uptime.
 * Parameters: $1-$3 the cursor, $4 the API's uptime (ms), $5 SETTLE_MS, $6 BATCH_ROWS.
 */
const afterCursor = (column: string) =>
  `${column} IS NOT NULL
     AND (${column}, workflow_id, run_id) > (COALESCE($1::timestamptz, now() - $4::float8 * interval '1 millisecond'), $2::text, $3::text)
     AND ${column} <= now() - $5::float8 * interval '1 millisecond'
   ORDER BY ${column}, workflow_id, run_id
   LIMIT $6`;

const STARTED_SQL = `SELECT workflow_id, run_id, runbook, run_mode, ${exact('started_at')} AS at
  FROM runbook_runs WHERE ${afterCursor('started_at')}`;

const CLOSED_SQL = `SELECT workflow_id, run_id, runbook, run_mode, COALESCE(outcome, status) AS outcome,
    extract(epoch FROM ended_at - started_at)::float8 AS seconds, report->'approvals' AS approvals, ${exact('ended_at')} AS at
  FROM runbook_runs WHERE ${afterCursor('ended_at')}`;

// By primary key prefix, for the runs of one batch only.
const STEPS_SQL = `SELECT s.workflow_id, s.run_id, s.name, s.status, extract(epoch FROM s.ended_at - s.started_at)::float8 AS seconds
  FROM unnest($1::text[], $2::text[]) AS r(workflow_id, run_id)
  JOIN runbook_steps s ON s.workflow_id = r.workflow_id AND s.run_id = r.run_id
  WHERE s.ended_at IS NOT NULL`;

/**
 * Counters and histograms of what the worker recorded in PostgreSQL: runs started, runs
 * closed, and, for each closed run, its duration, its steps' durations and its approvals'
 * waits. Each scrape reads the rows stamped since the last one it counted (two cursors:
 * runs by started_at, runs by ended_at), so every row is counted once per API process and
 * the metrics are real monotonic counters and histograms. The first scrape starts from the
 * moment the API started; a restart starts from zero, as any counter does.
 *
 * Steps and approvals are counted when their run closes: by then a step's status is final
 * (a completed step may later be compensated) and the run's report holds every decision.
 */
export class RunRecordMetrics {
  private readonly born = performance.now();
  private started: Cursor = { at: null, workflowId: '', runId: '' };
  private closed: Cursor = { at: null, workflowId: '', runId: '' };
  private readonly runsStarted: Counter<'runbook' | 'mode'>;
  private readonly runsClosed: Counter<'runbook' | 'mode' | 'outcome'>;
  private readonly runDuration: Histogram<'runbook' | 'mode' | 'outcome'>;
  private readonly timeToRecover: Histogram<'runbook' | 'mode'>;
  private readonly stepDuration: Histogram<'runbook' | 'mode' | 'step' | 'status'>;
  private readonly approvalWait: Histogram<'runbook' | 'step' | 'kind' | 'decision'>;

  constructor(
    private readonly pool: Pool,
    registry: Registry,
  ) {
    const registers = [registry];
    this.runsStarted = new Counter({
      name: 'gpuaas_runs_started_total',
      help: 'Runbook runs the worker recorded as started, by runbook and run mode',
      labelNames: ['runbook', 'mode'] as const,
      registers,
    });
    this.runsClosed = new Counter({
      name: 'gpuaas_runs_closed_total',
      help: 'Runbook runs the worker recorded as finished, by runbook, run mode and outcome',
      labelNames: ['runbook', 'mode', 'outcome'] as const,
      registers,
    });
    this.runDuration = new Histogram({
      name: 'gpuaas_run_duration_seconds',
      help: 'Time from a run starting to its end, by runbook, run mode and outcome',
      labelNames: ['runbook', 'mode', 'outcome'] as const,
      buckets: RUN_BUCKETS,
      registers,
    });
    this.timeToRecover = new Histogram({
      name: 'gpuaas_time_to_recover_seconds',
      help: `Time from a run starting to its node being back in service, for runs that ended ${[...RECOVERED_OUTCOMES].join(' or ')}`,
      labelNames: ['runbook', 'mode'] as const,
      buckets: RUN_BUCKETS,
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'gpuaas_step_duration_seconds',
      help: 'Duration of each step of a closed run, by runbook, run mode, step and final step status',
      labelNames: ['runbook', 'mode', 'step', 'status'] as const,
      buckets: STEP_BUCKETS,
      registers,
    });
    this.approvalWait = new Histogram({
      name: 'gpuaas_approval_wait_seconds',
      help: 'Time from an approval being requested to its decision (approve, reject or timeout), by runbook, approval step and kind',
      labelNames: ['runbook', 'step', 'kind', 'decision'] as const,
      buckets: APPROVAL_BUCKETS,
      registers,
    });
    // Series that exist before their first event, so increase() sees the first one too.
    for (const runbook of runbookNames()) {
      const def = findRunbook(runbook)!;
      for (const mode of def.supportedRunModes) {
        this.runsStarted.inc({ runbook, mode }, 0);
        for (const outcome of def.outcomes) this.runsClosed.inc({ runbook, mode, outcome }, 0);
        if (def.outcomes.some((o) => RECOVERED_OUTCOMES.has(o))) this.timeToRecover.zero({ runbook, mode });
      }
    }
  }

  /** Counts the rows settled since the last read. A failed read counts nothing and leaves the cursors where they were. */
  async read(): Promise<void> {
    await this.readStarted();
    await this.readClosed();
  }

  private params(cursor: Cursor): unknown[] {
    return [cursor.at, cursor.workflowId, cursor.runId, performance.now() - this.born, SETTLE_MS, BATCH_ROWS];
  }

  private async readStarted(): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const { rows } = await this.pool.query<StartedRow>(STARTED_SQL, this.params(this.started));
      for (const r of rows) this.runsStarted.inc({ runbook: r.runbook, mode: r.run_mode });
      if (rows.length > 0) this.started = cursorOf(rows[rows.length - 1]!);
      if (rows.length < BATCH_ROWS) return;
    }
  }

  private async readClosed(): Promise<void> {
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const runs = (await this.pool.query<ClosedRow>(CLOSED_SQL, this.params(this.closed))).rows;
      if (runs.length === 0) return;
      const steps = (await this.pool.query<StepRow>(STEPS_SQL, [runs.map((r) => r.workflow_id), runs.map((r) => r.run_id)])).rows;
      // Nothing is counted until both reads succeeded.
      const byRun = new Map(runs.map((r) => [`${r.workflow_id}\n${r.run_id}`, r]));
      for (const r of runs) {
        const labels = { runbook: r.runbook, mode: r.run_mode, outcome: r.outcome };
        const seconds = Math.max(0, r.seconds);
        this.runsClosed.inc(labels);
        this.runDuration.observe(labels, seconds);
        if (RECOVERED_OUTCOMES.has(r.outcome)) this.timeToRecover.observe({ runbook: r.runbook, mode: r.run_mode }, seconds);
        for (const a of approvalWaits(r.approvals))
          this.approvalWait.observe({ runbook: r.runbook, step: a.step, kind: a.kind, decision: a.decision }, a.seconds);
      }
      for (const s of steps) {
        const run = byRun.get(`${s.workflow_id}\n${s.run_id}`)!;
        this.stepDuration.observe({ runbook: run.runbook, mode: run.run_mode, step: s.name, status: s.status }, Math.max(0, s.seconds));
      }
      this.closed = cursorOf(runs[runs.length - 1]!);
      if (runs.length < BATCH_ROWS) return;
    }
  }
}

function cursorOf(row: StartedRow): Cursor {
  return { at: row.at, workflowId: row.workflow_id, runId: row.run_id };
}

/** The decision records of a run's report (`report.approvals`): what was asked, and how long until it was decided. */
function approvalWaits(approvals: unknown): { step: string; kind: string; decision: string; seconds: number }[] {
  if (!Array.isArray(approvals)) return [];
  return approvals.flatMap((a: unknown) => {
    if (!a || typeof a !== 'object') return [];
    const { step, kind, decision, requested_at, decided_at } = a as Record<string, unknown>;
    const seconds = (Date.parse(String(decided_at)) - Date.parse(String(requested_at))) / 1000;
    if (typeof step !== 'string' || typeof decision !== 'string' || !Number.isFinite(seconds)) return [];
    // Records written before approvals had kinds carry none.
    return [{ step, kind: typeof kind === 'string' ? kind : 'unspecified', decision, seconds: Math.max(0, seconds) }];
  });
}
