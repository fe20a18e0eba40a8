/**
 * Leader recovery's policy (seed 004, "Recover from Dead Leader" and "Leader stuck
 * lock — forced recovery"), as plain data and pure functions: what the replicas'
 * journals say, and when a lock's holder has been proven gone well enough that two
 * people may be asked to end its database session. No I/O; safe in workflows.
 */

/** The page's log patterns, and systemd's line for a process that died, counted per replica. */
export const LEADER_LOG_PATTERNS = {
  db_connection_lost: 'Leader DB connection lost',
  lock_not_acquired: 'Failed to acquire leader lock',
  stepped_down: 'Leader stepping down',
  elected: 'Leader elected',
  process_died: 'Main process exited',
} as const;
export type LeaderLogPattern = keyof typeof LEADER_LOG_PATTERNS;

/** One journal entry of the orchestrator's unit, as `journalctl -o short-iso` prints it. */
export interface JournalEntry {
  at: string;
  ident: string;
  pid: number;
  /** The JSON line's `msg` when the process wrote it, else the whole message (systemd's lines). */
  msg: string;
}

export interface JournalFindings {
  node_id: string;
  counts: Record<LeaderLogPattern, number>;
  /** The newest entry of each pattern seen. */
  last: Partial<Record<LeaderLogPattern, JournalEntry>>;
}

export function journalFindings(nodeId: string, entries: readonly JournalEntry[]): JournalFindings {
  const counts = Object.fromEntries(Object.keys(LEADER_LOG_PATTERNS).map((k) => [k, 0])) as Record<LeaderLogPattern, number>;
  const last: Partial<Record<LeaderLogPattern, JournalEntry>> = {};
  for (const e of entries) {
    for (const [key, text] of Object.entries(LEADER_LOG_PATTERNS) as [LeaderLogPattern, string][]) {
      if (!e.msg.includes(text)) continue;
      counts[key] += 1;
      last[key] = e;
    }
  }
  return { node_id: nodeId, counts, last };
}

/** "dev-control-1: 1× Leader DB connection lost, 2× Failed to acquire leader lock" (patterns seen only). */
export function describeFindings(f: JournalFindings): string {
  const seen = (Object.keys(LEADER_LOG_PATTERNS) as LeaderLogPattern[]).filter((k) => f.counts[k] > 0);
  return `${f.node_id}: ${seen.length ? seen.map((k) => `${f.counts[k]}× ${LEADER_LOG_PATTERNS[k]}`).join(', ') : 'no leader events'}`;
}

/** Who holds the leader lock, as the database itself says (never the orchestrator's own word). */
export interface LockHolder {
  backend: 'mysql' | 'postgres';
  lock_name: string;
  /** MySQL: IS_USED_LOCK's connection id; PostgreSQL: the backend pid in pg_locks. Null: the lock is free. */
  session_id: number | null;
  /** The holder's session: PROCESSLIST / pg_stat_activity; null when the session is gone. */
  session: {
    user: string | null;
    /** MySQL HOST (host:port); PostgreSQL client_addr. */
    client: string | null;
    /** MySQL COMMAND ("Sleep" when idle); PostgreSQL state ("idle"). */
    state: string | null;
    /** Seconds since the session last did anything (MySQL TIME, PostgreSQL now() - state_change). */
    idle_s: number | null;
    application_name: string | null;
    started_at: string | null;
  } | null;
  /** The replica that reported this session as its lock session (orchestrator_replicas.lock_session_id). */
  replica: { replica_id: string; node_id: string; pid: number; is_leader: boolean; heartbeat_at: string; heartbeat_age_ms: number } | null;
}

/** Whether the holder's process still runs on its host (`ps -p`), and what its unit says. */
export interface HolderProcess {
  node_id: string;
  pid: number;
  running: boolean;
  /** ps's line for the pid, empty when nothing runs under it. */
  ps: string;
  /** `systemctl is-active gpu-orchestrator.service` (a restarted unit runs under another pid). */
  unit: string;
}

export type LockVerdict =
  { kind: 'release'; why: string } | { kind: 'free'; why: string } | { kind: 'live_holder'; why: string } | { kind: 'unproven'; why: string };

/** A session that is idle by the server's own account: MySQL "Sleep", PostgreSQL "idle" (not "idle in transaction"). */
export function sessionIsIdle(state: string | null): boolean {
  return state === 'Sleep' || state === 'idle';
}

/**
 * Whether the lock may be freed by ending its holder's session. Only when every
 * proof holds: the session maps to a replica, that replica's process is gone
 * from its host, and the session is idle for at least `minIdleS`. A process
 * that still runs (a partitioned leader) is never freed from under it.
 */
export function judgeLock(holder: LockHolder, process: HolderProcess | null, minIdleS: number): LockVerdict {
  if (holder.session_id === null) return { kind: 'free', why: `${holder.lock_name} is free` };
  const s = holder.session_id;
  if (!holder.session) return { kind: 'free', why: `session ${s} is gone` };
  if (!holder.replica) {
    return {
      kind: 'unproven',
      why: `session ${s} holds ${holder.lock_name} but no replica reported it as its lock session: not proven to be the orchestrator's`,
    };
  }
  const r = holder.replica;
  if (!process || process.node_id !== r.node_id || process.pid !== r.pid) {
    return { kind: 'unproven', why: `${r.replica_id}'s process (pid ${r.pid} on ${r.node_id}) was not checked` };
  }
  if (process.running) {
    return {
      kind: 'live_holder',
      why: `${r.replica_id} still runs (pid ${r.pid} on ${r.node_id}: ${process.ps.trim()}) and its session ${s} holds ${holder.lock_name}: a live lock is not freed`,
    };
  }
  if (!sessionIsIdle(holder.session.state)) {
    return { kind: 'unproven', why: `session ${s} is ${holder.session.state ?? 'in an unknown state'}, not idle: something still uses it` };
  }
  const idle = holder.session.idle_s ?? 0;
  if (idle < minIdleS) return { kind: 'unproven', why: `session ${s} has been idle ${idle} s, less than ${minIdleS} s` };
  return {
    kind: 'release',
    why: `session ${s} (${holder.session.client ?? 'unknown client'}) belongs to ${r.replica_id}, whose process pid ${r.pid} is gone from ${r.node_id} (unit ${process.unit}); idle ${idle} s ≥ ${minIdleS} s`,
  };
}
