import { heartbeat, sleep } from '@temporalio/activity';
import { ORCHESTRATOR_STREAM, type OrchestratorCluster } from '../../domain/orchestrator';
import type { StepContext } from '../../domain/step-context';
import { withRedis } from './redis-connection';
import { withOrchestratorDb } from './orchestrator-db';
import { clusterNamed } from './orchestrator-activities';

/** How every job of a range of the stream ended, as the orchestrator's own table records it. */
export interface JobAccount {
  /** Stream entries from `from` to `up_to`: every job not yet settled when the window opened, and every one added during it. */
  jobs: number;
  /** Done, completed exactly once. */
  done_once: number;
  /** Done more than once (completions > 1): a duplicate. */
  duplicated: { job_id: string; completions: number }[];
  /** Not done when the wait ended: no row, or still running or retrying. */
  unsettled: { job_id: string; status: string | null }[];
  dead_lettered: string[];
  /** Full counts (the lists above show at most 20 ids each). */
  counts: { duplicated: number; unsettled: number; dead_lettered: number };
  /** XRANGE's start: an id (inclusive) or "(id" (exclusive). */
  from: string;
  up_to: string;
  waited_ms: number;
}

/** Ids shown in a result; counts are always complete. */
const SHOWN = 20;
const CHUNK = 500;

/**
 * The verification that no job was lost or duplicated: every entry of the job
 * stream from `from` to `upTo` (XRANGE) against the orchestrator_jobs table (completions
 * counts each completion, so a duplicate shows as 2). Waits, heartbeating, until
 * every one is settled or the timeout; jobs added in the window may still be
 * running when it starts. Read only.
 */
export function createJobLedgerActivities(deps: { clusters: readonly OrchestratorCluster[] }) {
  async function account(c: OrchestratorCluster, from: string, upTo: string): Promise<Omit<JobAccount, 'waited_ms' | 'counts'> & { settled: boolean }> {
    const ids = await withRedis(c.redis_url, async (redis) => {
      const out: string[] = [];
      let start = from;
      for (;;) {
        const batch = (await redis.call('XRANGE', ORCHESTRATOR_STREAM, start, upTo, 'COUNT', String(CHUNK))) as [string, string[]][];
        for (const [id, flat] of batch) {
          const i = flat.indexOf('job_id');
          out.push(i >= 0 && i % 2 === 0 ? flat[i + 1]! : id);
        }
        if (batch.length < CHUNK) return out;
        start = `(${batch[batch.length - 1]![0]}`;
      }
    });
    const rows = new Map<string, { status: string; completions: number }>();
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const found = await withOrchestratorDb(c, 'reading orchestrator_jobs', (db) =>
        db.query(`SELECT job_id, status, completions FROM orchestrator_jobs WHERE job_id IN (${chunk.map(() => '?').join(', ')})`, chunk),
      );
      for (const r of found) rows.set(String(r.job_id), { status: String(r.status), completions: Number(r.completions) });
    }
    const seen = new Map<string, number>();
    for (const id of ids) seen.set(id, (seen.get(id) ?? 0) + 1);
    const unique = [...seen.keys()];
    const duplicated: JobAccount['duplicated'] = [];
    const unsettled: JobAccount['unsettled'] = [];
    const dead: string[] = [];
    let once = 0;
    for (const id of unique) {
      const r = rows.get(id);
      if (r?.status === 'done' && r.completions === 1) once++;
      else if (r?.status === 'done') duplicated.push({ job_id: id, completions: r.completions });
      else if (r?.status === 'dead_letter') dead.push(id);
      else unsettled.push({ job_id: id, status: r?.status ?? null });
    }
    // The same job id added twice to the stream is two deliveries of one job: a duplicate too.
    for (const [id, n] of seen) {
      if (n > 1 && !duplicated.some((d) => d.job_id === id)) duplicated.push({ job_id: id, completions: rows.get(id)?.completions ?? 0 });
    }
    return { jobs: unique.length, done_once: once, duplicated, unsettled, dead_lettered: dead, from, up_to: upTo, settled: unsettled.length === 0 };
  }

  return {
    async accountJobs(_ctx: StepContext, cluster: string | undefined, from: string, upTo: string, timeoutMs: number, pollMs: number): Promise<JobAccount> {
      const c = clusterNamed(deps.clusters, cluster);
      const started = Date.now();
      for (;;) {
        const a = await account(c, from, upTo);
        const waited = Date.now() - started;
        heartbeat({ unsettled: a.unsettled.length, waited_ms: waited });
        if (a.settled || waited >= timeoutMs) {
          const { settled: _settled, ...rest } = a;
          return {
            ...rest,
            counts: { duplicated: rest.duplicated.length, unsettled: rest.unsettled.length, dead_lettered: rest.dead_lettered.length },
            duplicated: rest.duplicated.slice(0, SHOWN),
            unsettled: rest.unsettled.slice(0, SHOWN),
            dead_lettered: rest.dead_lettered.slice(0, SHOWN),
            waited_ms: waited,
          };
        }
        await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)));
      }
    },
  };
}

export type JobLedgerActivities = ReturnType<typeof createJobLedgerActivities>;
