import { pgSafeJson } from '../../domain/pg-safe-json';
import type { Pool } from 'pg';
import type { RunReport, StepRecord } from '../../domain/runbook';
import type { StepContext } from '../../domain/step-context';

export type EvidenceKind = 'command' | 'classification' | 'diag' | 'decision' | 'alert' | 'note' | 'plan';

export interface EvidenceInput {
  idempotency_key: string;
  kind: EvidenceKind;
  summary: string;
  data: unknown;
  trace_id?: string;
}

/**
 * PostgreSQL text and jsonb cannot hold U+0000. Host output and operator text
 * may carry it; a record must never fail for that, so it is made visible instead.
 */
function pgSafeText(value: string): string {
  return value.replace(/\u0000/g, '\u2400');
}

/**
 * The engine's own records in PostgreSQL: runs, steps and evidence. Every write
 * is keyed so a retried activity writes once.
 */
export class EvidenceStore {
  constructor(private readonly pool: Pool) {}

  async runStarted(ctx: StepContext, input: unknown, runMode: string, traceId?: string, requestedBy: string | null = null): Promise<void> {
    await this.pool.query(
      `INSERT INTO runbook_runs (workflow_id, run_id, runbook, node_id, correlation_id, run_mode, status, input, trace_id, requested_by)
       VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8, $9)
       ON CONFLICT (workflow_id, run_id) DO NOTHING`,
      [ctx.workflow_id, ctx.run_id, ctx.runbook, ctx.node_id ?? null, pgSafeText(ctx.correlation_id), runMode, pgSafeJson(input), traceId ?? null, requestedBy],
    );
  }

  async markCordoned(ctx: StepContext): Promise<void> {
    await this.pool.query(`UPDATE runbook_runs SET cordoned_at = COALESCE(cordoned_at, now()) WHERE workflow_id = $1 AND run_id = $2`, [
      ctx.workflow_id,
      ctx.run_id,
    ]);
  }

  async runFinished(ctx: StepContext, status: 'completed' | 'failed' | 'cancelled', report: RunReport): Promise<void> {
    await this.pool.query(
      `UPDATE runbook_runs SET status = $3, outcome = $4, report = $5, ended_at = COALESCE(ended_at, now())
       WHERE workflow_id = $1 AND run_id = $2`,
      [ctx.workflow_id, ctx.run_id, status, report.outcome, pgSafeJson(report)],
    );
  }

  async step(ctx: StepContext, step: StepRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO runbook_steps (workflow_id, run_id, seq, name, phase, status, attempt, started_at, ended_at, error, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (workflow_id, run_id, seq) DO UPDATE SET
         status = EXCLUDED.status, attempt = EXCLUDED.attempt, ended_at = EXCLUDED.ended_at,
         error = EXCLUDED.error, detail = EXCLUDED.detail`,
      [
        ctx.workflow_id,
        ctx.run_id,
        step.seq,
        step.name,
        step.phase,
        step.status,
        step.attempt,
        step.started_at,
        step.ended_at ?? null,
        step.error ? pgSafeJson(step.error) : null,
        step.detail === undefined ? null : pgSafeText(step.detail),
      ],
    );
  }

  /** Returns the evidence reference ("evidence:<id>"), the same one on a retry. */
  async record(ctx: StepContext, e: EvidenceInput): Promise<string> {
    const res = await this.pool.query<{ id: string }>(
      `INSERT INTO evidence (idempotency_key, workflow_id, run_id, correlation_id, trace_id, kind, host_name, host_role, node_id, summary, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
       RETURNING id`,
      [
        pgSafeText(e.idempotency_key),
        ctx.workflow_id,
        ctx.run_id,
        pgSafeText(ctx.correlation_id),
        e.trace_id ?? null,
        e.kind,
        ctx.host_name ?? null,
        ctx.host_role ?? null,
        ctx.node_id ?? null,
        pgSafeText(e.summary),
        pgSafeJson(e.data),
      ],
    );
    return `evidence:${res.rows[0]!.id}`;
  }

  /** Data of an earlier evidence record with this key, if the effect already happened. */
  async findByKey<T>(idempotencyKey: string): Promise<T | undefined> {
    const res = await this.pool.query<{ data: T }>(`SELECT data FROM evidence WHERE idempotency_key = $1`, [idempotencyKey]);
    return res.rows[0]?.data;
  }

  async setKernelLogCursor(ctx: StepContext, cursor: unknown): Promise<void> {
    await this.pool.query(`UPDATE runbook_runs SET kernel_log_cursor = $3 WHERE workflow_id = $1 AND run_id = $2`, [
      ctx.workflow_id,
      ctx.run_id,
      pgSafeJson(cursor),
    ]);
  }

  /** The cursor of the node's newest finished run of this runbook that recorded one. */
  async latestKernelLogCursor<T>(runbook: string, nodeId: string): Promise<T | null> {
    const res = await this.pool.query<{ kernel_log_cursor: T }>(
      `SELECT kernel_log_cursor FROM runbook_runs
       WHERE runbook = $1 AND node_id = $2 AND kernel_log_cursor IS NOT NULL AND status = 'completed'
       ORDER BY ended_at DESC NULLS LAST LIMIT 1`,
      [runbook, nodeId],
    );
    return res.rows[0]?.kernel_log_cursor ?? null;
  }

  /** Runs of this runbook that took the node out of service within the window, other than this one. */
  async countRecentRemediations(runbook: string, nodeId: string, windowDays: number, excludeRunId: string): Promise<number> {
    const res = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM runbook_runs
       WHERE runbook = $1 AND node_id = $2 AND cordoned_at IS NOT NULL
         AND cordoned_at > now() - make_interval(days => $3) AND run_id <> $4`,
      [runbook, nodeId, windowDays, excludeRunId],
    );
    return Number(res.rows[0]!.n);
  }
}
