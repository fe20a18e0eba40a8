/**
 * The lab's GPU orchestrator (seed 004) on real Redis and real SQL, once on
 * MySQL/MariaDB and once on PostgreSQL: leader election on the database's own
 * lock, jobs from the stream processed exactly once, the DLQ, drain, pool
 * eviction over SSH, a runaway pool, a stale lock and the Redis command record.
 * timeScale 0.002 (a job 4 ms, XAUTOCLAIM's idle time 60 ms, systemd's restart
 * 10 ms); elections every 100 ms of real time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { quote } from 'shell-quote';
import { findHost, type InventoryHost } from '../../domain/inventory';
import { LabAdmin } from '../../lab/admin-client';
import { startLab, type RunningLab } from '../../lab/index';
import type { HostFiles } from '../../lab/app-runtime/host-files';
import { Scheduler } from '../../lab/app-runtime/scheduler';
import type { SimHostState } from '../../lab/gpu-host-state';
import { JobRunner } from '../../lab/orchestrator/job-runner';
import { WorkerPools } from '../../lab/orchestrator/pools';
import { redisDb } from '../../lab/orchestrator/redis-record';
import { ensureSchema } from '../../lab/orchestrator/schema';
import { openSql, type Sql } from '../../lab/orchestrator/sql';
import { OrchestratorStore } from '../../lab/orchestrator/store';
import { autoclaim, ensureGroup, readNew } from '../../lab/orchestrator/streams';
import { mysqlDatabase, postgresDatabase, redisUrl, type TestDatabase } from '../support/orchestrator-backends';
import { http, run, sleep, waitFor } from './support';

const SCALE = 0.002;
const ELECTION_MS = 100;
const STREAM = 'stream:orchestrator:inference_jobs';
const DLQ = `${STREAM}:dlq`;
const GROUP = 'cg:inference';
const ARTIFACT = '/var/lib/gpu-orchestrator/models/llama-3-8b/model.safetensors';
const CACHED = '/var/cache/gpu-orchestrator/models/llama-3-8b/model.safetensors';

interface LeaderStatus {
  leader: { replica_id: string; node_id: string; pid: number } | null;
  lock: { name: string; holder_session_id: number | null; holder_replica: { node_id: string; pid: number } | null };
}
interface Job {
  job_id: string;
  status: string;
  completions: number;
  attempts: number;
  cause: string | null;
}

describe.each(['mysql', 'postgres'] as const)('the orchestrator lab on %s', (kind) => {
  let dataDir: string;
  let db: TestDatabase;
  let lab: RunningLab;
  let admin: LabAdmin;
  let redis: Redis;
  let sql: { query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>; close(): Promise<void> };

  const urls = () => Object.fromEntries(lab.orchestrator!.cluster.replicas.map((r) => [r.node_id, r.api_url]));
  const host = (nodeId: string): InventoryHost => findHost(lab.inventory, nodeId)!;
  const sh = (nodeId: string, argv: string[]) => run(host(nodeId), lab.clientKeyPath, quote(argv));
  const labApi = (method: string, path: string, body?: unknown) => http(lab.platformUrl, method, path, { body, token: lab.platformToken });
  const fault = async (name: string, body: object = {}) => {
    const r = await labApi('POST', `/lab/v1/orchestrator/faults/${name}`, body);
    expect(r.status).toBe(200);
    return r.body.applied as Record<string, unknown>;
  };
  /** The orchestrator's API on whichever replica answers. */
  async function api<T = any>(method: string, path: string, body?: unknown, nodeId?: string) {
    for (const [node, url] of Object.entries(urls())) {
      if (nodeId && node !== nodeId) continue;
      const r = await http<T>(url, method, path, { body }).catch(() => undefined);
      if (r && r.status !== 503) return r;
    }
    throw new Error(`no replica answered ${method} ${path}`);
  }
  const leaderStatus = async () => (await api<LeaderStatus>('GET', '/status/leader')).body;
  const waitLeader = (not?: string) =>
    waitFor(
      async () => {
        const s = await leaderStatus();
        return s.leader && s.leader.node_id !== not ? s.leader : undefined;
      },
      15_000,
      30,
    );
  const jobs = async (): Promise<Job[]> =>
    (await sql.query('SELECT job_id, status, completions, attempts, cause FROM orchestrator_jobs ORDER BY job_id')).map((r) => ({
      job_id: String(r.job_id),
      status: String(r.status),
      completions: Number(r.completions),
      attempts: Number(r.attempts),
      cause: (r.cause as string | null) ?? null,
    }));
  const addJobs = async (prefix: string, n: number, model = 'llama-3-8b') => {
    const ids: string[] = [];
    for (let i = 1; i <= n; i++) {
      await redis.xadd(STREAM, '*', 'job_id', `${prefix}-${i}`, 'model', model);
      ids.push(`${prefix}-${i}`);
    }
    return ids;
  };
  const waitDone = (ids: string[], timeoutMs = 20_000) =>
    waitFor(
      async () => {
        const done = (await jobs()).filter((j) => ids.includes(j.job_id) && j.status === 'done');
        return done.length === ids.length ? done : undefined;
      },
      timeoutMs,
      50,
    );
  const pending = async () => Number(((await redis.xpending(STREAM, GROUP)) as unknown[])[0]);
  const metric = async (name: string, labels: string) => {
    const text = (await fetch(`${Object.values(urls())[0]}/metrics`).then((r) => r.text())) as string;
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), `gpuaas-orchestrator-${kind}-`));
    db = kind === 'mysql' ? await mysqlDatabase('lab') : await postgresDatabase('lab');
    lab = await startLab({
      dataDir,
      extraGpuNodes: 1,
      timeScale: SCALE,
      orchestrator: {
        backends: { redisUrl: redisUrl(), db: db.backend },
        electionIntervalMs: ELECTION_MS,
        // MySQL named locks are server-wide: a lock of this run's own, so parallel runs on one server stay apart.
        lockName: kind === 'mysql' ? `gpu_orchestrator_leader_${process.pid}` : undefined,
      },
    });
    admin = new LabAdmin(lab.platformUrl, lab.platformToken);
    redis = new Redis(redisUrl(), { connectionName: 'orchestrator-test' });
    if (kind === 'mysql') {
      const pool = mysql.createPool({ uri: db.backend.url, connectionLimit: 2 });
      sql = { query: async (t, p = []) => (await pool.query(t, p))[0] as Record<string, unknown>[], close: () => pool.end() };
    } else {
      const pool = new pg.Pool({ connectionString: db.backend.url, max: 2 });
      sql = { query: async (t, p = []) => (await pool.query(t, p)).rows as Record<string, unknown>[], close: () => pool.end() };
    }
  });

  afterAll(async () => {
    await lab?.stop();
    // The streams live in a shared Redis: leave nothing behind.
    await redis?.del(STREAM, DLQ);
    redis?.disconnect();
    await sql?.close();
    await db?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await admin.reset();
  });

  it('elects exactly one leader, and the other replica takes over when the leader is killed over SSH', async () => {
    const first = await waitLeader();
    // Several election rounds later there is still exactly one replica that says it leads.
    await sleep(3 * ELECTION_MS);
    const leaders = (await sql.query('SELECT replica_id FROM orchestrator_replicas WHERE is_leader = 1')).map((r) => r.replica_id);
    expect(leaders).toEqual([first.replica_id]);

    const ps = await sh(first.node_id, ['ps', '-o', 'pid=,args=', '-p', String(first.pid)]);
    expect(ps.stdout).toContain('/usr/local/bin/gpu-orchestrator');
    const killed = await sh(first.node_id, ['kill', '-KILL', String(first.pid)]);
    expect(killed).toMatchObject({ code: 0, stderr: '' });

    const next = await waitLeader(first.node_id);
    expect(next.node_id).not.toBe(first.node_id);
    expect((await sh(first.node_id, ['ps', '-p', String(first.pid)])).code).toBe(1);
    const journal = await sh(first.node_id, ['journalctl', '-u', 'gpu-orchestrator', '-n', '50', '--no-pager']);
    expect(journal.stdout).toContain('Main process exited, code=killed, status=9/KILL');
  });

  it('processes every job added to the stream exactly once, across a leader change', async () => {
    const first = await waitLeader();
    const before = await addJobs('once-a', 10);
    await waitDone(before.slice(0, 3));
    await fault('kill_leader');
    const during = await addJobs('once-b', 10);
    await waitLeader(first.node_id);
    const all = [...before, ...during];
    const done = await waitDone(all);
    expect(done.map((j) => j.completions)).toEqual(all.map(() => 1));
    await waitFor(async () => ((await pending()) === 0 ? true : undefined), 5000);
    expect(await redis.xlen(DLQ)).toBe(0);
  });

  it('dead-letters a job whose model artifact is missing, with its cause, and processes it once the artifact is back', async () => {
    await waitLeader();
    const { removed_from } = (await fault('missing_model_artifact', { model: 'llama-3-8b' })) as { removed_from: string[] };
    expect(removed_from.length).toBeGreaterThan(0);
    const [id] = await addJobs('dlq', 1);
    const entry = await waitFor(async () => {
      const e = await redis.xrange(DLQ, '-', '+');
      return e.length ? e[0] : undefined;
    }, 10_000);
    const fields = Object.fromEntries(entry[1].reduce<string[][]>((acc, v, i) => (i % 2 ? acc : [...acc, [v, entry[1][i + 1]!]]), []));
    expect(fields).toMatchObject({ job_id: id, cause: 'model_artifact_missing', attempts: '3' });
    expect(fields.error).toContain(ARTIFACT);
    expect((await jobs()).find((j) => j.job_id === id)).toMatchObject({ status: 'dead_letter', completions: 0 });

    for (const node of removed_from) {
      const r = await sh(node, ['install', '-D', '-m', '0644', CACHED, ARTIFACT]);
      expect(r).toMatchObject({ code: 0 });
    }
    await redis.xadd(STREAM, '*', 'job_id', id!, 'model', 'llama-3-8b', 'replay_of', entry[0]);
    const [done] = await waitDone([id!]);
    expect(done).toMatchObject({ status: 'done', completions: 1 });
  });

  it('stops consuming in drain without moving the group, lets in-flight jobs finish, and resumes in normal', async () => {
    await waitLeader();
    await fault('long_jobs', { job_ms: 150_000 }); // 300 ms each
    const before = await addJobs('drain-a', 4);
    await waitFor(async () => ((await api('GET', '/leases')).body.leases.length > 0 ? true : undefined), 5000);
    expect((await api('POST', '/control/maintenance', { mode: 'drain' })).status).toBe(200);
    const during = await addJobs('drain-b', 3);
    await waitFor(async () => ((await pending()) === 0 && (await api('GET', '/leases')).body.leases.length === 0 ? true : undefined), 10_000);
    const seen = await jobs();
    expect(seen.filter((j) => during.includes(j.job_id))).toEqual([]);
    expect(seen.filter((j) => j.status === 'done').length).toBeGreaterThan(0);
    const text = await fetch(`${Object.values(urls())[0]}/metrics`).then((r) => r.text());
    expect(text).toMatch(/^gpu_orchestrator_pending_jobs 0$/m);
    expect(text).toMatch(/^gpu_orchestrator_maintenance_mode 1$/m);

    expect((await api('POST', '/control/maintenance', { mode: 'normal' })).status).toBe(200);
    const done = await waitDone([...before, ...during]);
    expect(done.map((j) => j.completions)).toEqual([...before, ...during].map(() => 1));
    const record = (await labApi('GET', '/lab/v1/orchestrator/records')).body.redis_commands as { args: string[] }[];
    expect(record.filter((c) => c.args[0]?.toUpperCase() === 'XGROUP' && c.args[1]?.toUpperCase() === 'SETID')).toEqual([]);
    expect(record.some((c) => c.args[0]?.toUpperCase() === 'XREADGROUP')).toBe(true);
  });

  it('shows a pool’s worker PIDs over SSH; kill -TERM ends them, the pool leaves GET /pools and its leases are released', async () => {
    await waitLeader();
    await fault('long_jobs', { job_ms: 100_000 });
    const pools = (await api('GET', '/pools')).body.pools as { pool_id: string; node_id: string; worker_pids: number[] }[];
    const pool = pools.find((p) => p.pool_id === 'pool-llama-3-8b')!;
    expect(pool.worker_pids.length).toBe(2);
    await addJobs('evict', 2);
    await waitFor(async () => ((await api('GET', `/leases?pool_id=${pool.pool_id}`)).body.leases.length > 0 ? true : undefined), 5000);

    const ps = await sh(pool.node_id, ['ps', '-o', 'pid=,user=,args=', '-p', pool.worker_pids.join(',')]);
    expect(ps.code).toBe(0);
    for (const pid of pool.worker_pids) expect(ps.stdout).toMatch(new RegExp(`^\\s*${pid} gpuorch .*--pool ${pool.pool_id} `, 'm'));
    const killed = await sh(pool.node_id, ['kill', '-TERM', ...pool.worker_pids.map(String)]);
    expect(killed).toMatchObject({ code: 0, stderr: '' });

    await waitFor(
      async () => ((await api('GET', '/pools')).body.pools.some((p: { pool_id: string }) => p.pool_id === pool.pool_id) ? undefined : true),
      10_000,
    );
    expect((await api('GET', `/leases?pool_id=${pool.pool_id}`)).body.leases).toEqual([]);
    expect((await sh(pool.node_id, ['ps', '-p', pool.worker_pids.join(',')])).code).toBe(1);
    const row = await sql.query(`SELECT status FROM worker_pools WHERE pool_id = ${kind === 'mysql' ? '?' : '$1'}`, [pool.pool_id]);
    expect(row[0]?.status).toBe('stopped');
  });

  it('shows a runaway pool’s memory growing in /metrics', async () => {
    await waitLeader();
    const label = 'pool_id="pool-mistral-7b"';
    const start = await metric('gpu_orchestrator_worker_pool_memory_bytes', label);
    expect(start).toBeGreaterThan(0);
    await fault('runaway_pool', { pool_id: 'pool-mistral-7b', growth_mib_per_s: 256 });
    const grown = await waitFor(async () => {
      const v = await metric('gpu_orchestrator_worker_pool_memory_bytes', label);
      return v !== undefined && v > start! + 256 * 1048576 ? v : undefined;
    }, 5000);
    expect(grown).toBeGreaterThan(start!);
  });

  it('a stale lock held by a dead session shows in the database and blocks election until that session is ended', async () => {
    const first = await waitLeader();
    const applied = (await fault('stale_lock')) as { lock_session_id: number; pid: number; node_id: string };
    const lockName = lab.orchestrator!.cluster.lock_name;
    expect((await sh(applied.node_id, ['ps', '-p', String(applied.pid)])).code).toBe(1);

    if (kind === 'mysql') {
      const [used] = await sql.query('SELECT IS_USED_LOCK(?) AS holder', [lockName]);
      expect(Number(used!.holder)).toBe(applied.lock_session_id);
      const [proc] = await sql.query('SELECT ID, COMMAND FROM information_schema.PROCESSLIST WHERE ID = ?', [applied.lock_session_id]);
      expect(proc).toMatchObject({ COMMAND: 'Sleep' });
    } else {
      const rows = await sql.query(
        "SELECT l.pid, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      expect(rows).toEqual([{ pid: applied.lock_session_id, state: 'idle' }]);
    }
    // Rounds go by (the killed replica restarted meanwhile) and nobody leads.
    await sleep(5 * ELECTION_MS);
    expect((await leaderStatus()).leader).toBeNull();
    const { lock } = await leaderStatus();
    expect(lock.holder_session_id).toBe(applied.lock_session_id);
    // The session's last report names the dead process, so an operator can prove it is gone.
    expect(lock.holder_replica).toMatchObject({ node_id: applied.node_id, pid: applied.pid });

    if (kind === 'mysql') await sql.query(`KILL ${Number(applied.lock_session_id)}`);
    else await sql.query('SELECT pg_terminate_backend($1)', [applied.lock_session_id]);
    const next = await waitLeader();
    expect(next.pid).not.toBe(first.pid);
  });

  it('records every Redis command issued against the stream, with the client that issued it', async () => {
    await waitLeader();
    const [id] = await addJobs('record', 1);
    await waitDone([id!]);
    const record = await waitFor(async () => {
      const r = (await labApi('GET', '/lab/v1/orchestrator/records')).body.redis_commands as { args: string[]; client_name: string | null }[];
      return r.some((c) => c.args[0] === 'XACK') ? r : undefined;
    }, 5000);
    const xadd = record.find((c) => c.args[0]?.toUpperCase() === 'XADD' && c.args.includes(id!));
    expect(xadd).toMatchObject({ client_name: 'orchestrator-test' });
    expect(xadd!.args[1]).toBe(STREAM);
    const names = new Set(record.filter((c) => c.args[0] === 'XREADGROUP').map((c) => c.client_name));
    expect([...names].every((n) => n?.startsWith('gpu-orchestrator:orchestrator-'))).toBe(true);
    expect(record.some((c) => c.args[0] === 'XACK' && c.client_name === 'gpu-orchestrator-worker')).toBe(true);
  });
  it('installs a release over SSH: the package step rewrites the version and restarts the unit; a failed checksum changes nothing', async () => {
    const leader = await waitLeader();
    const follower = Object.keys(urls()).find((n) => n !== leader.node_id)!;
    const installer = '/usr/local/sbin/gpu-orchestrator-install';
    expect((await sh(follower, ['gpu-orchestrator', '--version'])).stdout).toBe('gpu-orchestrator 2.3.1\n');

    const res = await sh(follower, [installer, '2.4.0']);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('installed /usr/local/bin/gpu-orchestrator (2.4.0, was 2.3.1)');
    expect((await sh(follower, ['gpu-orchestrator', '--version'])).stdout).toBe('gpu-orchestrator 2.4.0\n');
    expect((await sh(follower, ['cat', '/etc/gpu-orchestrator/orchestrator.env'])).stdout).toMatch(/^ORCHESTRATOR_VERSION=2\.4\.0$/m);
    // The restarted process reads the new version at start.
    await waitFor(async () => {
      const h = await api('GET', '/health', undefined, follower).catch(() => undefined);
      return h?.body.status === 'ok' && h.body.version === '2.4.0' ? true : undefined;
    }, 10_000);
    expect((await admin.records(follower)).mutations.filter((m) => m.kind === 'orchestrator_install')).toMatchObject([
      { applied: true, detail: { version: '2.4.0', previous_version: '2.3.1' } },
    ]);

    expect((await sh(follower, [installer, '9.9.9'])).code).toBe(1);
    expect((await sh(follower, [installer, '2.4.0;reboot'])).code).toBe(2);
    await fault('install_fails', { node_id: leader.node_id });
    const failed = await sh(leader.node_id, [installer, '2.4.0']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/SHA256 mismatch/);
    expect((await sh(leader.node_id, ['gpu-orchestrator', '--version'])).stdout).toBe('gpu-orchestrator 2.3.1\n');
    expect((await admin.records(leader.node_id)).mutations).toEqual([]);
  });

  /**
   * The leader's dispatch against a second delivery of the same job, forced
   * rather than left to load: one JobRunner on a database and Redis db of its
   * own (the lab's replicas never see them), the worker's completion held at a
   * gate so the entry can be reclaimed after the worker finished but before its
   * row says done, the window a loaded machine opens by chance.
   */
  describe('a second delivery of a job in hand', () => {
    let raceDb: TestDatabase;
    let leaderSql: Sql;
    let workerSql: Sql;
    let r: Redis;
    let pools: WorkerPools;
    let runner: JobRunner;
    let jobMs = 50;
    let settling: Promise<void>;
    let openGate: () => void;
    const NODE = 'dev-gpu-1';
    const log = () => undefined;
    const leader = (replicaId: string) => ({ store: new OrchestratorStore(leaderSql), redis: r, replicaId, log });
    const row = async (jobId: string) => (await new OrchestratorStore(leaderSql).job(jobId))!;
    const xpending = async () => Number(((await r.xpending(STREAM, GROUP)) as unknown[])[0]);

    beforeAll(async () => {
      raceDb = kind === 'mysql' ? await mysqlDatabase('race') : await postgresDatabase('race');
      leaderSql = openSql(raceDb.backend, 'race leader', 2);
      workerSql = openSql(raceDb.backend, 'race workers', 2);
      await ensureSchema(leaderSql);
      const url = new URL(redisUrl());
      url.pathname = `/${redisDb(redisUrl()) + 1}`;
      r = new Redis(url.toString(), { connectionName: 'orchestrator-race-test' });
    });

    afterAll(async () => {
      await r?.del(STREAM);
      r?.disconnect();
      await leaderSql?.close();
      await workerSql?.close();
      await raceDb?.drop();
    });

    beforeEach(async () => {
      for (const t of ['orchestrator_leases', 'orchestrator_jobs']) await leaderSql.exec(`DELETE FROM ${t}`);
      await r.del(STREAM);
      await ensureGroup(r);
      jobMs = 50;
      let pid = 7000;
      const state = { isWorker: true, gpus: [{ index: 0 }, { index: 1 }], nextPid: () => ++pid } as unknown as SimHostState;
      const scheduler = new Scheduler(1);
      pools = new WorkerPools({ scheduler, hostState: () => state, events: { workerExited: () => undefined } });
      pools.start({ id: 'pool-llama-3-8b', nodeId: NODE, model: 'llama-3-8b', workers: 2 });
      // The worker's completion waits at the gate; `settling` says it got there (its worker is idle again).
      const workers = new OrchestratorStore(workerSql);
      const complete = workers.complete.bind(workers);
      let gate!: Promise<void>;
      let reached!: () => void;
      settling = new Promise((res) => (reached = res));
      gate = new Promise((res) => (openGate = res));
      workers.complete = async (...args: Parameters<OrchestratorStore['complete']>) => {
        reached();
        await gate;
        return complete(...args);
      };
      const files = { exists: () => true, append: () => undefined } as unknown as HostFiles;
      runner = new JobRunner({
        pools,
        scheduler,
        files: () => files,
        jobMs: () => jobMs,
        workers: { store: workers, redis: r },
        counters: { processed: 0, retries: 0, deadLettered: 0, evictions: 0 },
      });
    });

    afterEach(() => {
      openGate();
      pools.clear();
    });

    it('is not dispatched again when reclaimed after its worker finished but before the row says done', async () => {
      await r.xadd(STREAM, '*', 'job_id', 'race-1', 'model', 'llama-3-8b');
      const [first] = await readNew(r, 'leader-a', 1);
      expect(await runner.handle(first!, leader('leader-a'))).toBe('dispatched');
      await settling;
      expect(pools.idleWorkers()).toHaveLength(2);
      // XAUTOCLAIM with no idle time: the entry is delivered again while the first attempt settles.
      const [again] = await autoclaim(r, 'leader-b', 0, 10);
      expect(again?.id).toBe(first!.id);
      expect(await runner.handle(again!, leader('leader-b'))).toBe('in_hand');
      openGate();
      await waitFor(async () => ((await xpending()) === 0 ? true : undefined), 5000, 10);
      await sleep(3 * jobMs);
      expect(await row('race-1')).toMatchObject({ status: 'done', completions: 1, attempts: 1 });
    });

    it.each([
      ['new', null],
      ['retrying', 1],
    ] as const)('is dispatched once by two leaders handling it at the same time (%s job)', async (_, seen) => {
      openGate();
      const now = new Date();
      if (seen !== null) {
        await leaderSql.exec(
          "INSERT INTO orchestrator_jobs (job_id, stream_id, model, status, attempts, completions, created_at, updated_at) VALUES ('race-2', '0-1', 'llama-3-8b', 'retrying', ?, 0, ?, ?)",
          [seen, now, now],
        );
      }
      await r.xadd(STREAM, '*', 'job_id', 'race-2', 'model', 'llama-3-8b');
      const [a] = await readNew(r, 'leader-a', 1);
      const [b] = await autoclaim(r, 'leader-b', 0, 10);
      // Both leaders read the row before either writes: the interleaving of two leaders across an election round.
      let reads = 0;
      let bothRead!: () => void;
      const barrier = new Promise<void>((res) => (bothRead = res));
      const racing = (replicaId: string) => {
        const l = leader(replicaId);
        const job = l.store.job.bind(l.store);
        l.store.job = async (id: string) => {
          const got = await job(id);
          if (++reads === 2) bothRead();
          await barrier;
          return got;
        };
        return l;
      };
      const handled = await Promise.all([runner.handle(a!, racing('leader-a')), runner.handle(b!, racing('leader-b'))]);
      expect(handled.sort()).toEqual(['dispatched', 'in_hand']);
      await waitFor(async () => ((await xpending()) === 0 ? true : undefined), 5000, 10);
      await sleep(3 * jobMs);
      expect(await row('race-2')).toMatchObject({ status: 'done', completions: 1, attempts: (seen ?? 0) + 1 });
    });

    it('is run again, once, when its worker really died', async () => {
      openGate();
      jobMs = 60_000;
      await r.xadd(STREAM, '*', 'job_id', 'race-3', 'model', 'llama-3-8b');
      const [first] = await readNew(r, 'leader-a', 1);
      expect(await runner.handle(first!, leader('leader-a'))).toBe('dispatched');
      const worker = pools.list()[0]!.workers.find((w) => w.job?.jobId === 'race-3')!;
      expect(pools.signal(NODE, worker.pid, 'KILL')).toBe(true);
      jobMs = 50;
      expect(await runner.reap(leader('leader-a'))).toBe(1);
      expect(await row('race-3')).toMatchObject({ status: 'retrying', cause: 'worker_lost' });
      const [again] = await autoclaim(r, 'leader-a', 0, 10);
      expect(await runner.handle(again!, leader('leader-a'))).toBe('dispatched');
      await waitFor(async () => ((await xpending()) === 0 ? true : undefined), 5000, 10);
      expect(await row('race-3')).toMatchObject({ status: 'done', completions: 1, attempts: 2 });
    });
  });
});
