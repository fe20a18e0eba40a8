/**
 * The orchestrator's leader lock on both SQL backends the stack hands out in globalSetup: a
 * MySQL/MariaDB named lock and a PostgreSQL advisory lock. Each runs with two real sessions,
 * the leader (A) and a would-be leader (B): what leader-recovery checks (who holds the lock,
 * from where, idle since when), what does not free it (B releasing), and what does (ending
 * A's session). Then how the project finds or starts a MariaDB of its own.
 */
import fs from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import pg from 'pg';
import { findFreePort } from '../../infra/free-port';
import { pingMysql } from '../../infra/mariadb-server';
import { resolveOrchestratorDb, type OrchestratorDb } from '../../infra/orchestrator-db';
import { testEnv } from '../support/test-env';

/** Polls until `check` holds; fails after `attempts` tries (a bound, not a timing assertion). */
async function eventually(what: string, check: () => Promise<boolean>, attempts = 200): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never happened: ${what}`);
}

describe('MySQL/MariaDB named lock', () => {
  const url = () => testEnv('orchestratorMysqlUrl');
  // Named locks are server-wide; the run's own database in the name keeps runs sharing a server apart.
  const lock = () => `${new URL(url()).pathname.slice(1)}.gpu_orchestrator_leader`;
  let a: Connection;
  let b: Connection;
  let aId: number;

  const value = async (session: Connection, sql: string, params: unknown[] = []): Promise<unknown> => {
    const [rows] = await session.query<RowDataPacket[]>(sql, params);
    return rows[0]!.v;
  };

  beforeEach(async () => {
    a = await createConnection({ uri: url() });
    a.on('error', () => undefined); // A's session is killed in one test
    b = await createConnection({ uri: url() });
    aId = (await value(a, 'SELECT CONNECTION_ID() AS v')) as number;
    expect(await value(a, 'SELECT GET_LOCK(?, 0) AS v', [lock()])).toBe(1);
  });
  afterEach(async () => {
    // Released, not left to the server noticing a closed socket: the next test's A takes it at once.
    await a.query('SELECT RELEASE_LOCK(?)', [lock()]).catch(() => undefined);
    a.destroy();
    await b.end();
  });

  test("a held lock refuses B, names A's session, and shows A's host and idle time; B cannot release it", async () => {
    expect(await value(b, 'SELECT GET_LOCK(?, 0) AS v', [lock()])).toBe(0);
    expect(await value(b, 'SELECT IS_USED_LOCK(?) AS v', [lock()])).toBe(aId);

    // A's own end of the connection (mysql2's promise wrapper does not type its core connection).
    const socket = (a as unknown as { connection: { stream: net.Socket } }).connection.stream;
    const viaUnixSocket = new URL(url()).searchParams.has('socketPath');
    let holder: RowDataPacket | undefined;
    // A's thread reports Sleep once it has sent its last answer: wait for it, do not race it.
    await eventually('A shows as idle', async () => {
      [[holder]] = await b.query<RowDataPacket[]>('SELECT HOST, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID = ?', [aId]);
      return holder?.COMMAND === 'Sleep';
    });
    expect(holder!.HOST).toEqual(viaUnixSocket ? 'localhost' : expect.stringMatching(new RegExp(`:${socket.localPort}$`)));
    expect(holder!.TIME).toEqual(expect.any(Number));
    expect(holder!.TIME).toBeGreaterThanOrEqual(0);

    // RELEASE_LOCK frees only the caller's own lock.
    expect(await value(b, 'SELECT RELEASE_LOCK(?) AS v', [lock()])).toBe(0);
    expect(await value(b, 'SELECT IS_USED_LOCK(?) AS v', [lock()])).toBe(aId);
  });

  test("ending A's session with KILL frees the lock for B", async () => {
    await b.query('KILL ?', [aId]);
    await eventually('the lock is free', async () => (await value(b, 'SELECT IS_USED_LOCK(?) AS v', [lock()])) === null);
    expect(await value(b, 'SELECT GET_LOCK(?, 0) AS v', [lock()])).toBe(1);
    expect(await value(b, 'SELECT IS_USED_LOCK(?) AS v', [lock()])).toBe(await value(b, 'SELECT CONNECTION_ID() AS v'));
    expect(await value(b, 'SELECT RELEASE_LOCK(?) AS v', [lock()])).toBe(1);
  });
});

describe('PostgreSQL advisory lock', () => {
  /** One bigint key below 2^32, so pg_locks shows it as classid 0, objid KEY, objsubid 1. */
  const LEADER_LOCK_KEY = 727_361_101;
  const HOLDER_SQL = `
    SELECT l.pid, s.client_addr, s.client_port, s.state, extract(epoch FROM now() - s.state_change)::float8 AS idle_seconds
      FROM pg_locks l JOIN pg_stat_activity s ON s.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  let a: pg.Client;
  let b: pg.Client;
  let aPid: number;

  const value = async (session: pg.Client, sql: string, params: unknown[] = []): Promise<unknown> => (await session.query(sql, params)).rows[0].v;

  beforeEach(async () => {
    a = new pg.Client({ connectionString: testEnv('orchestratorPgUrl') });
    a.on('error', () => undefined); // A's backend is terminated in one test
    b = new pg.Client({ connectionString: testEnv('orchestratorPgUrl') });
    await a.connect();
    await b.connect();
    aPid = (await value(a, 'SELECT pg_backend_pid() AS v')) as number;
    expect(await value(a, 'SELECT pg_try_advisory_lock($1) AS v', [LEADER_LOCK_KEY])).toBe(true);
  });
  afterEach(async () => {
    // Released, not left to the backend's exit: the next test's A takes it at once.
    await a.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    await a.end().catch(() => undefined);
    await b.end();
  });

  test("a held lock refuses B, and pg_locks with pg_stat_activity name A's backend, its address and idle time; B cannot release it", async () => {
    expect(await value(b, 'SELECT pg_try_advisory_lock($1) AS v', [LEADER_LOCK_KEY])).toBe(false);

    const socket = a.connection.stream as net.Socket;
    const { rows } = await b.query(HOLDER_SQL, [LEADER_LOCK_KEY]);
    expect(rows).toEqual([{ pid: aPid, client_addr: socket.localAddress, client_port: socket.localPort, state: 'idle', idle_seconds: expect.any(Number) }]);
    expect(rows[0].idle_seconds).toBeGreaterThanOrEqual(0);

    // pg_advisory_unlock frees only the caller's own lock (and warns that B holds none).
    expect(await value(b, 'SELECT pg_advisory_unlock($1) AS v', [LEADER_LOCK_KEY])).toBe(false);
    expect((await b.query(HOLDER_SQL, [LEADER_LOCK_KEY])).rows.map((r) => r.pid)).toEqual([aPid]);
  });

  test("ending A's backend with pg_terminate_backend frees the lock for B", async () => {
    expect(await value(b, 'SELECT pg_terminate_backend($1) AS v', [aPid])).toBe(true);
    await eventually('the lock is free', async () => (await b.query(HOLDER_SQL, [LEADER_LOCK_KEY])).rowCount === 0);
    expect(await value(b, 'SELECT pg_try_advisory_lock($1) AS v', [LEADER_LOCK_KEY])).toBe(true);
    expect((await b.query(HOLDER_SQL, [LEADER_LOCK_KEY])).rows.map((r) => r.pid)).toEqual([await value(b, 'SELECT pg_backend_pid() AS v')]);
    expect(await value(b, 'SELECT pg_advisory_unlock($1) AS v', [LEADER_LOCK_KEY])).toBe(true);
  });
});

describe('resolving the orchestrator database', () => {
  let dir: string;
  const resolved: OrchestratorDb[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-orch-db-'));
  });
  afterAll(async () => {
    for (const db of resolved) await db.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('ORCHESTRATOR_DB_URL is taken as given, either kind; one that does not answer is an error, not a reason to start one', async () => {
    const mysql = await resolveOrchestratorDb({ dataDir: dir, orchestratorDbUrl: testEnv('orchestratorMysqlUrl') });
    const postgres = await resolveOrchestratorDb({ dataDir: dir, orchestratorDbUrl: testEnv('orchestratorPgUrl') });
    expect([mysql, postgres].map(({ kind, source, url }) => ({ kind, source, url }))).toEqual([
      { kind: 'mysql', source: 'env', url: testEnv('orchestratorMysqlUrl') },
      { kind: 'postgres', source: 'env', url: testEnv('orchestratorPgUrl') },
    ]);
    const nobody = await findFreePort();
    await expect(resolveOrchestratorDb({ dataDir: dir, orchestratorDbUrl: `mysql://root@127.0.0.1:${nobody}/x` })).rejects.toThrow(
      /does not answer: .*ECONNREFUSED/,
    );
    await expect(resolveOrchestratorDb({ dataDir: dir, orchestratorDbUrl: 'sqlite:///tmp/orch.db' })).rejects.toThrow(/expected mysql:\/\/… or postgres:\/\//);
  });

  test('with no server on this machine it starts mariadbd of its own, root behind a password, and stops it', async () => {
    const db = await resolveOrchestratorDb({ dataDir: dir, localServers: [] });
    resolved.push(db);
    expect({ kind: db.kind, source: db.source }).toEqual({ kind: 'mysql', source: 'started' });
    expect(new URL(db.url).pathname).toBe('/gpuaas_orch');
    const session = await createConnection({ uri: db.url });
    try {
      const [rows] = await session.query<RowDataPacket[]>("SELECT GET_LOCK('gpu_orchestrator_leader', 0) AS v, @@bind_address AS bind");
      expect(rows[0]).toEqual({ v: 1, bind: '127.0.0.1' });
    } finally {
      await session.end();
    }
    const withoutPassword = new URL(db.url);
    withoutPassword.password = '';
    await expect(pingMysql(withoutPassword.toString())).rejects.toThrow(/Access denied/);

    await db.stop();
    await expect(pingMysql(db.url)).rejects.toThrow(/ECONNREFUSED/);
  });

  test('with no server on this machine and no mariadbd, the error says how to install one', async () => {
    const failure = resolveOrchestratorDb({ dataDir: dir, localServers: [], env: { PATH: '' }, extraSearchDirs: [] });
    await expect(failure).rejects.toThrow(/apt-get install mariadb-server/);
    await expect(failure).rejects.toThrow(/ORCHESTRATOR_DB_URL/);
  });
});
