/**
 * The orchestrator's SQL database. Two backends, one per kind of leader lock:
 *   mysql     MySQL/MariaDB named locks (GET_LOCK / IS_USED_LOCK / RELEASE_LOCK)
 *   postgres  PostgreSQL advisory locks (pg_try_advisory_lock)
 *
 * resolveOrchestratorDb, first hit wins:
 *   1. ORCHESTRATOR_DB_URL (mysql:// or postgres://) must answer, otherwise an error (no fallback)
 *   2. the MySQL/MariaDB on this machine (127.0.0.1:3306 or /run/mysqld/mysqld.sock, root,
 *      no password): a database of this run's own, gpuaas_orch_<pid>_<random>, dropped by stop()
 *   3. mariadbd from PATH or /usr/sbin, started under <dataDir>/mariadb: database gpuaas_orch
 *   4. otherwise an error saying how to install MariaDB.
 * orchestratorPgDatabase gives the postgres backend: a gpuaas_orch database on the engine's PostgreSQL.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { createConnection, escapeId } from 'mysql2/promise';
import pg from 'pg';
import { ensurePostgresDatabase } from './database';
import { findMariadbBinaries, pingMysql, SBIN_DIRS, startMariadb } from './mariadb-server';
import { redactUrl } from './redact-url';

export type OrchestratorDbKind = 'mysql' | 'postgres';

export interface OrchestratorDb {
  kind: OrchestratorDbKind;
  url: string;
  /** env: ORCHESTRATOR_DB_URL; local: this machine's server; started: our own mariadbd; engine: beside the engine's tables. */
  source: 'env' | 'local' | 'started' | 'engine';
  /** Drops a per-run database, stops a server we started; nothing otherwise. Idempotent. */
  stop(): Promise<void>;
}

export const ORCHESTRATOR_DATABASE = 'gpuaas_orch';

/** This machine's MySQL/MariaDB as Debian sets it up: TCP as root without a password, or the socket (root by unix_socket). */
export const LOCAL_MYSQL_SERVERS: readonly string[] = [
  'mysql://root@127.0.0.1:3306/',
  `mysql://root@localhost/?socketPath=${encodeURIComponent('/run/mysqld/mysqld.sock')}`,
];

export const MARIADB_INSTALL_HINT =
  'Install MariaDB (Debian/Ubuntu: `apt-get install mariadb-server`) or set ORCHESTRATOR_DB_URL=mysql://user:password@host:3306/database (or postgres://...).';

export interface ResolveOrchestratorDbOptions {
  /** A started MariaDB keeps its data in <dataDir>/mariadb. */
  dataDir: string;
  /** ORCHESTRATOR_DB_URL: use this database and start none. */
  orchestratorDbUrl?: string;
  /** Servers to try before starting one (URLs without a database). Default LOCAL_MYSQL_SERVERS. */
  localServers?: readonly string[];
  /** Where to look for mariadbd (PATH). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Searched after PATH. Default /usr/local/sbin, /usr/sbin. */
  extraSearchDirs?: readonly string[];
  log?: (line: string) => void;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function kindOf(url: string): OrchestratorDbKind | undefined {
  if (/^mysql:\/\//i.test(url)) return 'mysql';
  if (/^postgres(ql)?:\/\//i.test(url)) return 'postgres';
  return undefined;
}

/** The same server and credentials, another database. */
function withDatabase(serverUrl: string, database: string): string {
  const u = new URL(serverUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function onMysql(serverUrl: string, sql: string): Promise<void> {
  const connection = await createConnection({ uri: serverUrl, connectTimeout: 2_000 });
  try {
    await connection.query(sql);
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

async function pingPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    await client.query('SELECT 1');
  } finally {
    await client.end();
  }
}

async function fromEnv(url: string, log: (line: string) => void): Promise<OrchestratorDb> {
  const kind = kindOf(url);
  const shown = redactUrl(url, 'ORCHESTRATOR_DB_URL');
  if (!kind) throw new Error(`ORCHESTRATOR_DB_URL=${shown}: expected mysql://… or postgres://…`);
  try {
    await (kind === 'mysql' ? pingMysql(url) : pingPostgres(url));
  } catch (err) {
    throw new Error(`ORCHESTRATOR_DB_URL=${shown} does not answer: ${errMessage(err)}`);
  }
  log(`orchestrator database: ${shown} (ORCHESTRATOR_DB_URL)`);
  return { kind, url, source: 'env', stop: async () => undefined };
}

/**
 * A database of this run's own on a shared server, so concurrent runs never see each other's
 * tables. The random part keeps two resolutions in one process (jest runs test files in the
 * process that ran globalSetup) apart.
 */
async function perRunDatabase(serverUrl: string, log: (line: string) => void): Promise<OrchestratorDb> {
  const database = `${ORCHESTRATOR_DATABASE}_${process.pid}_${crypto.randomBytes(3).toString('hex')}`;
  await onMysql(serverUrl, `CREATE DATABASE ${escapeId(database)}`);
  log(`orchestrator database: ${database} on the local MySQL/MariaDB (${redactUrl(serverUrl)})`);
  let dropped: Promise<void> | undefined;
  const stop = () =>
    (dropped ??= onMysql(serverUrl, `DROP DATABASE IF EXISTS ${escapeId(database)}`).catch((err: unknown) =>
      log(`could not drop ${database}: ${errMessage(err)}`),
    ));
  return { kind: 'mysql', url: withDatabase(serverUrl, database), source: 'local', stop };
}

export async function resolveOrchestratorDb(opts: ResolveOrchestratorDbOptions): Promise<OrchestratorDb> {
  const log = opts.log ?? (() => undefined);
  if (opts.orchestratorDbUrl) return fromEnv(opts.orchestratorDbUrl, log);

  const tried = ['ORCHESTRATOR_DB_URL: not set'];
  for (const serverUrl of opts.localServers ?? LOCAL_MYSQL_SERVERS) {
    try {
      await pingMysql(serverUrl);
    } catch (err) {
      tried.push(`${redactUrl(serverUrl)}: ${errMessage(err)}`);
      continue;
    }
    return perRunDatabase(serverUrl, log);
  }

  const extraDirs = opts.extraSearchDirs ?? SBIN_DIRS;
  const bins = findMariadbBinaries(opts.env ?? process.env, extraDirs);
  if (!bins) {
    tried.push(`mariadbd (or mysqld) with mariadb-install-db: not on PATH${extraDirs.length ? ` or in ${extraDirs.join(', ')}` : ''}`);
    throw new Error([`No MySQL/MariaDB for the orchestrator's database. Tried:`, ...tried.map((t) => `  - ${t}`), MARIADB_INSTALL_HINT].join('\n'));
  }
  const server = await startMariadb(bins, path.resolve(opts.dataDir, 'mariadb'), log);
  try {
    await onMysql(server.url, `CREATE DATABASE IF NOT EXISTS ${escapeId(ORCHESTRATOR_DATABASE)}`);
  } catch (err) {
    await server.stop();
    throw err;
  }
  log(`orchestrator database: ${ORCHESTRATOR_DATABASE} on our own MariaDB`);
  return { kind: 'mysql', url: withDatabase(server.url, ORCHESTRATOR_DATABASE), source: 'started', stop: server.stop };
}

/** The postgres backend: database gpuaas_orch on the server of `engineUrl` (the engine's PostgreSQL), made if missing and kept. */
export async function orchestratorPgDatabase(engineUrl: string, log: (line: string) => void = () => undefined): Promise<OrchestratorDb> {
  const url = withDatabase(engineUrl, ORCHESTRATOR_DATABASE);
  try {
    await ensurePostgresDatabase(engineUrl, ORCHESTRATOR_DATABASE);
  } catch (err) {
    throw new Error(
      `cannot make the orchestrator's database ${ORCHESTRATOR_DATABASE} on ${redactUrl(engineUrl)}: ${errMessage(err)} (create it, or set ORCHESTRATOR_DB_URL)`,
    );
  }
  log(`orchestrator database (PostgreSQL): ${redactUrl(url)}`);
  return { kind: 'postgres', url, source: 'engine', stop: async () => undefined };
}
