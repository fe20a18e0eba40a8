/**
 * A short-lived connection to an orchestrator cluster's database (its `db_url`),
 * MySQL/MariaDB through mysql2 or PostgreSQL through pg, for the few statements
 * the orchestrator runbooks send (the leader lock, the jobs ledger). One connection per activity call, closed afterwards:
 * nothing is pooled across runs, and this session never holds a lock of its own.
 */
import { ApplicationFailure } from '@temporalio/common';
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { ErrorType } from '../../domain/errors';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import type { LockBackend } from './commands';

const CONNECT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 15_000;
/** How this engine's sessions show in pg_stat_activity. */
const APPLICATION_NAME = 'gpuaas-runbooks';

export type DbValue = string | number | null;
export type DbRow = Record<string, unknown>;

export interface OrchestratorDb {
  readonly backend: LockBackend;
  query(text: string, params: readonly DbValue[]): Promise<DbRow[]>;
  close(): Promise<void>;
}

/** MySQL errors no retry can fix: no privilege to KILL or to read the process list, bad credentials. */
const MYSQL_FINAL = new Set(['ER_KILL_DENIED_ERROR', 'ER_SPECIFIC_ACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR']);
/** PostgreSQL: insufficient_privilege, invalid_authorization_specification, invalid_password. */
const PG_FINAL = new Set(['42501', '28000', '28P01']);

/** A database error as the run sees it: typed, retryable unless it is a matter of privileges. */
export function dbFailure(cluster: string, what: string, err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const code = String((err as { code?: unknown }).code ?? '');
  const final = MYSQL_FINAL.has(code) || PG_FINAL.has(code);
  return ApplicationFailure.create({
    type: ErrorType.OrchestratorDbError,
    message: `${cluster}: ${what}: ${(err as Error).message}${code ? ` (${code})` : ''}`,
    nonRetryable: final,
  });
}

export function lockBackendOf(dbUrl: string): LockBackend {
  return dbUrl.startsWith('mysql:') ? 'mysql' : 'postgres';
}

/** `?` as PostgreSQL numbers them; none of the statements has a literal "?". */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

export async function openOrchestratorDb(cluster: OrchestratorCluster): Promise<OrchestratorDb> {
  const backend = lockBackendOf(cluster.db_url);
  if (backend === 'mysql') {
    const conn = await mysql.createConnection({ uri: cluster.db_url, connectTimeout: CONNECT_TIMEOUT_MS, timezone: 'Z', dateStrings: false });
    conn.on('error', () => undefined);
    return {
      backend,
      async query(text, params) {
        // query(), not execute(): KILL cannot be prepared; mysql2 escapes each value into the statement.
        const [rows] = await conn.query({ sql: text, timeout: STATEMENT_TIMEOUT_MS }, params as DbValue[]);
        return Array.isArray(rows) ? (rows as DbRow[]) : [];
      },
      close: () => conn.end().catch(() => conn.destroy()),
    };
  }
  const client = new pg.Client({
    connectionString: cluster.db_url,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS,
    application_name: APPLICATION_NAME,
  });
  client.on('error', () => undefined);
  await client.connect();
  return {
    backend,
    async query(text, params) {
      return (await client.query(numbered(text), params as DbValue[])).rows as DbRow[];
    },
    close: () => client.end().catch(() => undefined),
  };
}

/** Runs `fn` on a fresh connection and closes it; every error comes out typed. */
export async function withOrchestratorDb<T>(cluster: OrchestratorCluster, what: string, fn: (db: OrchestratorDb) => Promise<T>): Promise<T> {
  let db: OrchestratorDb;
  try {
    db = await openOrchestratorDb(cluster);
  } catch (err) {
    throw dbFailure(cluster.name, `connecting for ${what}`, err);
  }
  try {
    return await fn(db);
  } catch (err) {
    throw dbFailure(cluster.name, what, err);
  } finally {
    await db.close();
  }
}

/**
 * The advisory lock key the orchestrator takes on PostgreSQL for a lock name: the
 * first 8 bytes of the name's SHA-256 as a signed bigint, and how pg_locks shows it.
 */
export function advisoryLockKey(name: string): { key: string; classid: number; objid: number } {
  const key = createHash('sha256').update(name).digest().readBigInt64BE(0);
  const unsigned = BigInt.asUintN(64, key);
  return { key: key.toString(), classid: Number(unsigned >> 32n), objid: Number(unsigned & 0xffffffffn) };
}
