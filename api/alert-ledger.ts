import type { Pool } from 'pg';

/** What became of one alert trigger. */
export type AlertOutcome = 'started' | 'delivered' | 'coalesced' | 'cooldown' | 'over_cap';

/** Alerts a run was sent, by what became of them (migrations/002_alert_ledger.sql). */
export interface AlertCounts {
  received: number;
  delivered: number;
  coalesced: number;
  over_cap: number;
  cooldown: number;
}

/** The alert a trigger carries: its coalescing key and fault code. */
export interface AlertKey {
  key: string;
  xid: number | undefined;
}

export type OpenRunHit = { runId: string; outcome: 'claimed' | 'coalesced' | 'over_cap' };

export interface AlertState {
  /** The run repeated alerts currently join, as far as the ledger knows. */
  known?: { runId: string; fresh: boolean; engineOpen: boolean };
  /** The latest run the engine recorded for this workflow id. */
  last?: { runId: string; closed: boolean; coolingDown: boolean; nothingNew: boolean };
}

export interface AlertLedgerOptions {
  /** A run the ledger thinks open is confirmed with Temporal when it was last confirmed longer ago than this. */
  recheckMs: number;
  /** A delivery claimed this long ago and never finished (its process died) may be claimed again. */
  staleClaimMs: number;
}

/**
 * The API's alert ledger in PostgreSQL. Repeated alerts are answered from here, so a
 * storm costs one statement per alert rather than Temporal calls, and several API
 * processes agree on what each run was already sent.
 */
export class AlertLedger {
  constructor(
    private readonly pool: Pool,
    private readonly opts: AlertLedgerOptions,
  ) {}

  /**
   * The hot path, one statement. If the run this workflow id last had is open (the engine
   * has not recorded its end) and was confirmed with Temporal recently, the alert is
   * counted against it: a repeat of a key the run has is coalesced, a repeat of a refused
   * key is over the cap, and a new key is claimed by `claimant` for delivery (as is a key
   * whose earlier delivery failed or was abandoned). Undefined when there is no such run.
   */
  async recordForOpenRun(workflowId: string, alert: AlertKey, claimant: string): Promise<OpenRunHit | undefined> {
    const reclaim = `(l.delivery IN ('failed', 'cooldown') OR (l.delivery = 'pending' AND l.claimed_at < now() - $6::float8 * interval '1 millisecond'))`;
    const { rows } = await this.pool.query<{ run_id: string; delivery: string; claimed: boolean }>(
      `WITH latest AS (
         SELECT run_id, checked_at FROM alert_runs WHERE workflow_id = $1 ORDER BY checked_at DESC LIMIT 1
       ), target AS (
         SELECT latest.run_id FROM latest
         LEFT JOIN runbook_runs rr ON rr.workflow_id = $1 AND rr.run_id = latest.run_id
         WHERE latest.checked_at > now() - $5::float8 * interval '1 millisecond' AND (rr.status IS NULL OR rr.status = 'running')
       )
       INSERT INTO alert_ledger AS l (workflow_id, run_id, alert_key, xid, delivery, claimed_by, claimed_at, received)
       SELECT $1, target.run_id, $2, $3::int, 'pending', $4::text, now(), 1 FROM target
       ON CONFLICT (workflow_id, run_id, alert_key) DO UPDATE SET
         received   = l.received + 1,
         last_at    = now(),
         coalesced  = l.coalesced + CASE WHEN NOT ${reclaim} AND l.delivery IN ('started', 'delivered', 'pending') THEN 1 ELSE 0 END,
         over_cap   = l.over_cap + CASE WHEN NOT ${reclaim} AND l.delivery = 'over_cap' THEN 1 ELSE 0 END,
         delivery   = CASE WHEN ${reclaim} THEN 'pending' ELSE l.delivery END,
         claimed_by = CASE WHEN ${reclaim} THEN $4::text ELSE l.claimed_by END,
         claimed_at = CASE WHEN ${reclaim} THEN now() ELSE l.claimed_at END
       RETURNING l.run_id, l.delivery, (l.claimed_by IS NOT DISTINCT FROM $4::text AND l.delivery = 'pending') AS claimed`,
      [workflowId, alert.key, alert.xid ?? null, claimant, this.opts.recheckMs, this.opts.staleClaimMs],
    );
    const row = rows[0];
    if (!row) return undefined;
    const outcome = row.claimed ? 'claimed' : row.delivery === 'over_cap' ? 'over_cap' : 'coalesced';
    return { runId: row.run_id, outcome };
  }

  /**
   * Takes one of the run's `cap` delivery slots for a key this request claimed: 'delivered'
   * → the caller signals it; 'over_cap' → the run has its fill; 'coalesced' → the claim was
   * taken over meanwhile (it had gone stale), so another request delivers the key.
   * Locks the ledger row before the run's row, as deliveryFailed does.
   */
  async takeDeliverySlot(workflowId: string, runId: string, alertKey: string, claimant: string, cap: number): Promise<'delivered' | 'over_cap' | 'coalesced'> {
    const { rows } = await this.pool.query<{ delivery: string }>(
      `WITH mine AS (
         SELECT 1 FROM alert_ledger
         WHERE workflow_id = $1 AND run_id = $2 AND alert_key = $3 AND claimed_by = $4 AND delivery = 'pending'
         FOR UPDATE
       ), slot AS (
         UPDATE alert_runs SET delivered_keys = delivered_keys + 1
         WHERE workflow_id = $1 AND run_id = $2 AND delivered_keys < $5 AND EXISTS (SELECT 1 FROM mine)
         RETURNING 1
       )
       UPDATE alert_ledger l SET
         delivery = CASE WHEN EXISTS (SELECT 1 FROM slot) THEN 'delivered' ELSE 'over_cap' END,
         over_cap = l.over_cap + CASE WHEN EXISTS (SELECT 1 FROM slot) THEN 0 ELSE 1 END
       WHERE l.workflow_id = $1 AND l.run_id = $2 AND l.alert_key = $3 AND l.claimed_by = $4 AND l.delivery = 'pending'
       RETURNING l.delivery`,
      [workflowId, runId, alertKey, claimant, cap],
    );
    const delivery = rows[0]?.delivery;
    return delivery === 'delivered' || delivery === 'over_cap' ? delivery : 'coalesced';
  }

  /** The signal for a delivered key failed: give the slot back and let the next alert with the key try again. */
  async deliveryFailed(workflowId: string, runId: string, alertKey: string, claimant: string): Promise<void> {
    await this.pool.query(
      `WITH failed AS (
         UPDATE alert_ledger SET delivery = 'failed', received = greatest(received - 1, 0)
         WHERE workflow_id = $1 AND run_id = $2 AND alert_key = $3 AND claimed_by = $4 AND delivery = 'delivered'
         RETURNING 1
       )
       UPDATE alert_runs SET delivered_keys = greatest(delivered_keys - 1, 0)
       WHERE workflow_id = $1 AND run_id = $2 AND EXISTS (SELECT 1 FROM failed)`,
      [workflowId, runId, alertKey, claimant],
    );
  }

  /**
   * Temporal says `runId` is the open run: repeated alerts join it from now on. With the
   * key that started it, that key counts as the run's own (`startedHere` also counts the
   * starting alert itself), so a repeat of the starting alert is never signalled.
   */
  async runIsOpen(workflowId: string, runId: string, start: AlertKey | undefined, startedHere: boolean): Promise<void> {
    await this.pool.query(
      `WITH run AS (
         INSERT INTO alert_runs AS r (workflow_id, run_id, start_key, checked_at) VALUES ($1, $2, $3, now())
         ON CONFLICT (workflow_id, run_id) DO UPDATE SET checked_at = now(), start_key = COALESCE(r.start_key, EXCLUDED.start_key)
         RETURNING 1
       )
       INSERT INTO alert_ledger AS l (workflow_id, run_id, alert_key, xid, delivery, received)
       SELECT $1, $2, $3::text, $4::int, 'started', $5::int FROM run WHERE $3::text IS NOT NULL
       ON CONFLICT (workflow_id, run_id, alert_key) DO UPDATE SET delivery = 'started', received = l.received + EXCLUDED.received`,
      [workflowId, runId, start?.key ?? null, start?.xid ?? null, startedHere ? 1 : 0],
    );
  }

  /** The run is not what Temporal has open any more: the next alert asks Temporal again. */
  async runIsStale(workflowId: string, runId: string): Promise<void> {
    await this.pool.query(`UPDATE alert_runs SET checked_at = '-infinity' WHERE workflow_id = $1 AND run_id = $2`, [workflowId, runId]);
  }

  /**
   * What the slow path needs in one round trip: the run alerts currently join, and the
   * latest run the engine recorded, with whether it closed within `cooldownMs` and whether
   * it already saw this alert's Xid (as its trigger or as a delivered alert).
   */
  async state(workflowId: string, alert: AlertKey, cooldownMs: number, recheckMs = this.opts.recheckMs): Promise<AlertState> {
    const { rows } = await this.pool.query<{
      known_run_id: string | null;
      fresh: boolean | null;
      engine_open: boolean | null;
      last_run_id: string | null;
      last_closed: boolean | null;
      cooling_down: boolean | null;
      nothing_new: boolean | null;
    }>(
      `SELECT k.run_id AS known_run_id, k.fresh, k.engine_open,
              c.run_id AS last_run_id, c.closed AS last_closed, c.cooling_down, c.nothing_new
       FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (
         SELECT ar.run_id, ar.checked_at > now() - $4::float8 * interval '1 millisecond' AS fresh,
                (rr.status IS NULL OR rr.status = 'running') AS engine_open
         FROM alert_runs ar
         LEFT JOIN runbook_runs rr ON rr.workflow_id = ar.workflow_id AND rr.run_id = ar.run_id
         WHERE ar.workflow_id = $1 ORDER BY ar.checked_at DESC LIMIT 1
       ) k ON true
       LEFT JOIN LATERAL (
         SELECT rr.run_id, rr.status <> 'running' AS closed,
                (rr.ended_at IS NOT NULL AND rr.ended_at > now() - $2::float8 * interval '1 millisecond') AS cooling_down,
                ($3::int IS NULL
                  OR rr.input->>'xid' = $3::int::text
                  OR EXISTS (SELECT 1 FROM alert_ledger l
                             WHERE l.workflow_id = rr.workflow_id AND l.run_id = rr.run_id AND l.xid = $3::int
                               AND l.delivery IN ('started', 'delivered'))) AS nothing_new
         FROM runbook_runs rr WHERE rr.workflow_id = $1 ORDER BY rr.started_at DESC LIMIT 1
       ) c ON true`,
      [workflowId, cooldownMs, alert.xid ?? null, recheckMs],
    );
    const r = rows[0]!;
    return {
      known: r.known_run_id ? { runId: r.known_run_id, fresh: r.fresh === true, engineOpen: r.engine_open === true } : undefined,
      last: r.last_run_id
        ? { runId: r.last_run_id, closed: r.last_closed === true, coolingDown: r.cooling_down === true, nothingNew: r.nothing_new === true }
        : undefined,
    };
  }

  /** An alert answered with a closed run during its cool-down. */
  async recordCooldown(workflowId: string, runId: string, alert: AlertKey): Promise<void> {
    await this.pool.query(
      `INSERT INTO alert_ledger AS l (workflow_id, run_id, alert_key, xid, delivery, received, cooldown)
       VALUES ($1, $2, $3, $4, 'cooldown', 1, 1)
       ON CONFLICT (workflow_id, run_id, alert_key) DO UPDATE SET received = l.received + 1, cooldown = l.cooldown + 1, last_at = now()`,
      [workflowId, runId, alert.key, alert.xid ?? null],
    );
  }

  async counts(workflowId: string, runId: string): Promise<AlertCounts> {
    const { rows } = await this.pool.query<AlertCounts>(
      `SELECT coalesce(sum(received), 0)::int AS received,
              (count(*) FILTER (WHERE delivery = 'delivered'))::int AS delivered,
              coalesce(sum(coalesced), 0)::int AS coalesced,
              coalesce(sum(over_cap), 0)::int AS over_cap,
              coalesce(sum(cooldown), 0)::int AS cooldown
       FROM alert_ledger WHERE workflow_id = $1 AND run_id = $2`,
      [workflowId, runId],
    );
    return rows[0]!;
  }
}
