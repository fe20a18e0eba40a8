/**
 * Every command the orchestrator runbooks send, pure data importing nothing: plan mode
 * shows exactly these. SSH argv (the SSH layer quotes each argument) for replica hosts
 * and pool workers' GPU hosts, and SQL for the orchestrator's database, per dialect, with
 * `?` placeholders (PostgreSQL's are numbered when sent); every value, the lock name
 * included, is a parameter.
 *
 * Pool workers are found by PID and checked by start time and argv before any signal.
 *
 * Never RELEASE_LOCK / pg_advisory_unlock: both free only a lock the calling session
 * holds, so from an operator's session they do nothing to the stuck one. A lock held
 * by a dead process's session is freed by ending that session.
 */

// ---- pool workers on GPU hosts ----

/** PID, start time (absolute, so a reused PID shows a different one), user, RSS in KiB, full argv; no header. */
export const processesCommand = (pids: readonly number[]): string[] => ['ps', '-p', pids.join(','), '-o', 'pid=,lstart=,user=,rss=,args='];

export const signalCommand = (signal: 'TERM' | 'KILL', pids: readonly number[]): string[] => ['kill', '-s', signal, '--', ...pids.map(String)];

/** Every process holding GPU memory, with its GPU, as NVML lists them. */
export const gpuProcessesCommand = (): string[] => ['nvidia-smi', '--query-compute-apps=gpu_uuid,pid,used_gpu_memory', '--format=csv,noheader,nounits'];

// ---- leader recovery: replica hosts and the lock ----

export const ORCHESTRATOR_UNIT = 'gpu-orchestrator.service';
/** Journal lines read per replica: enough for a few minutes of a failing election every 2 s. */
export const JOURNAL_LINES = 500;

export const replicaCommands = {
  /** The unit's journal since `sinceEpochS` (`@epoch`: no dependence on the host's time zone). */
  journal: (sinceEpochS: number, lines = JOURNAL_LINES): string[] => [
    'journalctl',
    '-u',
    ORCHESTRATOR_UNIT,
    '--since',
    `@${Math.floor(sinceEpochS)}`,
    '-n',
    String(lines),
    '-o',
    'short-iso',
    '--no-pager',
  ],
  /** The process under `pid`, if any: ps exits 1 when nothing matches. */
  process: (pid: number): string[] => ['ps', '-o', 'pid=,args=', '-p', String(pid)],
  unitActive: (): string[] => ['systemctl', 'is-active', ORCHESTRATOR_UNIT],
  restart: (): string[] => ['systemctl', 'restart', ORCHESTRATOR_UNIT],
};

export type LockBackend = 'mysql' | 'postgres';

export const LEADER_LOCK_SQL = {
  mysql: {
    holder: 'SELECT IS_USED_LOCK(?) AS holder',
    session:
      'SELECT ID AS id, USER AS user, HOST AS client, COMMAND AS state, TIME AS idle_s, NULL AS application_name, NULL AS started_at FROM information_schema.PROCESSLIST WHERE ID = ?',
    endSession: 'KILL ?',
  },
  postgres: {
    /** A session advisory lock on a bigint key shows as classid = high 32 bits, objid = low 32 bits, objsubid = 1. */
    holder:
      "SELECT pid AS holder FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ? AND objid = ? AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    session:
      'SELECT pid AS id, usename AS user, host(client_addr) AS client, state, EXTRACT(EPOCH FROM (now() - state_change)) AS idle_s, application_name, to_char(backend_start AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"\') AS started_at FROM pg_stat_activity WHERE pid = ?',
    endSession: 'SELECT pg_terminate_backend(?) AS ended',
  },
} as const satisfies Record<LockBackend, Record<string, string>>;

export const REPLICA_SQL = {
  /** The newest replica row that reported this session as its lock session. */
  bySession: 'SELECT replica_id, node_id, pid, is_leader, heartbeat_at FROM orchestrator_replicas WHERE lock_session_id = ? ORDER BY heartbeat_at DESC',
  runningPools: "SELECT pool_id, node_id, model, workers, status FROM worker_pools WHERE status = 'running' ORDER BY pool_id",
};

// ---- rolling upgrade: the installed version, and the fleet's package step (installs a release, restarts the unit) ----

export const ORCHESTRATOR_INSTALLER = '/usr/local/sbin/gpu-orchestrator-install';
export const orchestratorVersionCommand = (): string[] => ['gpu-orchestrator', '--version'];
export const installOrchestratorCommand = (version: string): string[] => [ORCHESTRATOR_INSTALLER, version];

/** "gpu-orchestrator 2.3.1" → "2.3.1"; null for anything else. */
export function parseOrchestratorVersion(stdout: string): string | null {
  return /^gpu-orchestrator (\d+\.\d+\.\d+)\s*$/m.exec(stdout)?.[1] ?? null;
}
