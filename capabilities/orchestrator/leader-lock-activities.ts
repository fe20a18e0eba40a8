/**
 * The leader lock as its database shows it, and the one change leader recovery
 * may make to it: ending the session of a holder proven gone (KILL <id> on
 * MySQL, pg_terminate_backend(pid) on PostgreSQL). Never RELEASE_LOCK from this
 * session: it frees only locks this session holds, so it does nothing here.
 */
import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { Logger } from 'pino';
import { sessionIsIdle, type LockHolder } from '../../domain/leader-recovery';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import type { StepContext } from '../../domain/step-context';
import { stepLogger } from '../observability';
import { LEADER_LOCK_SQL, REPLICA_SQL } from './commands';
import { clusterNamed } from './orchestrator-activities';
import { advisoryLockKey, withOrchestratorDb, type DbRow, type OrchestratorDb } from './orchestrator-db';

/** The session a run proved stale and was allowed to end. */
export interface ExpectedHolder {
  session_id: number;
  /** PostgreSQL's backend_start: a pid reused by a newer backend is another session. */
  started_at: string | null;
  min_idle_s: number;
}

export interface EndSessionResult {
  /** ended: this call ended it; already_gone: it was gone before (a retry after the end counts here). */
  result: 'ended' | 'already_gone' | 'holder_changed' | 'no_longer_idle';
  before: LockHolder;
  /** Who holds the lock afterwards (a new leader may take it at once). */
  holder_after: number | null;
}

/** How long an ended session may take to let go of its lock. */
const END_WAIT_MS = 10_000;
/** MySQL's answer to KILL of a connection that no longer exists. */
const NO_SUCH_THREAD = 'ER_NO_SUCH_THREAD';

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : String(v));

async function holderSession(db: OrchestratorDb, lockName: string): Promise<number | null> {
  const sql = LEADER_LOCK_SQL[db.backend];
  const { classid, objid } = advisoryLockKey(lockName);
  const rows = await db.query(sql.holder, db.backend === 'mysql' ? [lockName] : [classid, objid]);
  return num(rows[0]?.holder);
}

async function session(db: OrchestratorDb, id: number): Promise<LockHolder['session']> {
  const row: DbRow | undefined = (await db.query(LEADER_LOCK_SQL[db.backend].session, [id]))[0];
  if (!row) return null;
  const idle = num(row.idle_s);
  return {
    user: str(row.user),
    client: str(row.client),
    state: str(row.state),
    idle_s: idle === null ? null : Math.floor(idle),
    application_name: str(row.application_name),
    started_at: str(row.started_at),
  };
}

async function inspect(db: OrchestratorDb, lockName: string): Promise<LockHolder> {
  const id = await holderSession(db, lockName);
  const base = { backend: db.backend, lock_name: lockName, session_id: id };
  if (id === null) return { ...base, session: null, replica: null };
  const s = await session(db, id);
  // The lock still held by a session this user cannot see: a missing privilege, not a session gone.
  if (!s && (await holderSession(db, lockName)) === id) {
    throw ApplicationFailure.create({
      type: ErrorType.OrchestratorDbError,
      message: `session ${id} holds ${lockName} but ${db.backend === 'mysql' ? 'information_schema.PROCESSLIST' : 'pg_stat_activity'} does not show it: the engine's database user needs ${db.backend === 'mysql' ? 'the PROCESS privilege' : 'pg_read_all_stats'}`,
      nonRetryable: true,
    });
  }
  const rows = await db.query(REPLICA_SQL.bySession, [id]);
  // A PostgreSQL pid is reused once its backend ends: a row last heard of before this session began was another session's.
  const started = s?.started_at ? Date.parse(s.started_at) : -Infinity;
  const row = rows.find((r) => new Date(r.heartbeat_at as string | Date).getTime() >= started);
  const heartbeatAt = row ? new Date(row.heartbeat_at as string | Date) : null;
  return {
    ...base,
    session: s,
    replica:
      row && heartbeatAt
        ? {
            replica_id: String(row.replica_id),
            node_id: String(row.node_id),
            pid: Number(row.pid),
            is_leader: Number(row.is_leader) === 1,
            heartbeat_at: heartbeatAt.toISOString(),
            heartbeat_age_ms: Math.max(0, Date.now() - heartbeatAt.getTime()),
          }
        : null,
  };
}

function describeHolder(h: LockHolder): string {
  if (h.session_id === null) return `${h.lock_name} is free`;
  const s = h.session ? `${h.session.state ?? '?'} ${h.session.idle_s ?? '?'} s from ${h.session.client ?? '?'}` : 'session gone';
  return `session ${h.session_id} (${s})${h.replica ? ` of ${h.replica.replica_id}` : ', no replica reported it'}`;
}

export function createLeaderLockActivities(deps: { clusters: readonly OrchestratorCluster[]; logger: Logger }) {
  const cluster = (name: string | undefined) => clusterNamed(deps.clusters, name);

  return {
    /** IS_USED_LOCK / pg_locks → the session → PROCESSLIST / pg_stat_activity → orchestrator_replicas. Reads only. */
    async inspectLeaderLock(_ctx: StepContext, clusterName: string | undefined): Promise<LockHolder> {
      const c = cluster(clusterName);
      return withOrchestratorDb(c, 'inspecting the leader lock', (db) => inspect(db, c.lock_name));
    },

    /**
     * Waits until the holder's session has been idle `minIdleS` seconds, or it was used
     * (its idle time went back: something alive uses it), or it is gone, or the timeout;
     * returns the last look. Heartbeats every poll.
     */
    async waitForIdleHolder(
      _ctx: StepContext,
      clusterName: string | undefined,
      sessionId: number,
      minIdleS: number,
      timeoutMs: number,
      pollMs: number,
    ): Promise<LockHolder & { used_meanwhile: boolean }> {
      const c = cluster(clusterName);
      const deadline = Date.now() + timeoutMs;
      let lastIdle = -1;
      for (;;) {
        const h = await withOrchestratorDb(c, 'watching the lock holder', (db) => inspect(db, c.lock_name));
        heartbeat({ session_id: h.session_id, idle_s: h.session?.idle_s ?? null });
        if (h.session_id !== sessionId || !h.session) return { ...h, used_meanwhile: false };
        const idle = h.session.idle_s ?? 0;
        const used = !sessionIsIdle(h.session.state) || idle < lastIdle;
        if (used || idle >= minIdleS || Date.now() >= deadline) return { ...h, used_meanwhile: used };
        lastIdle = idle;
        await sleep(pollMs);
      }
    },

    /**
     * Ends the session that holds the leader lock, only if it is still the session the
     * run proved stale (same id, same start, still idle long enough), checked on the
     * same connection right before the KILL / pg_terminate_backend. A session already
     * gone counts as done, so a retried attempt changes nothing twice.
     */
    async endLockSession(ctx: StepContext, clusterName: string | undefined, expected: ExpectedHolder): Promise<EndSessionResult> {
      const c = cluster(clusterName);
      const log = stepLogger(deps.logger, ctx);
      return withOrchestratorDb(c, `ending session ${expected.session_id}`, async (db) => {
        const before = await inspect(db, c.lock_name);
        const now = await session(db, expected.session_id);
        const gone = !now || (expected.started_at !== null && now.started_at !== expected.started_at);
        const done = (result: EndSessionResult['result']) => ({ result, before, holder_after: before.session_id });
        if (gone) return done('already_gone');
        if (before.session_id !== expected.session_id) return done('holder_changed');
        if (!sessionIsIdle(now.state) || (now.idle_s ?? 0) < expected.min_idle_s) return done('no_longer_idle');

        log.warn({ session_id: expected.session_id, lock: c.lock_name, holder: describeHolder(before) }, 'ending the stale leader lock session');
        try {
          await db.query(LEADER_LOCK_SQL[db.backend].endSession, [expected.session_id]);
        } catch (err) {
          if ((err as { code?: unknown }).code !== NO_SUCH_THREAD) throw err;
        }
        // The server lets go of the lock once the session is really gone.
        const deadline = Date.now() + END_WAIT_MS;
        let after = await holderSession(db, c.lock_name);
        while (after === expected.session_id && Date.now() < deadline) {
          heartbeat({ waiting_for: expected.session_id });
          await sleep(50);
          after = await holderSession(db, c.lock_name);
        }
        if (after === expected.session_id) throw new Error(`session ${expected.session_id} still holds ${c.lock_name} ${END_WAIT_MS} ms after it was ended`);
        log.info({ session_id: expected.session_id, holder_after: after }, 'stale leader lock session ended');
        return { result: 'ended', before, holder_after: after };
      });
    },
  };
}

export type LeaderLockActivities = ReturnType<typeof createLeaderLockActivities>;
