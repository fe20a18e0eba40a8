/**
 * The leader lock on its own database session, as the page has it: a MySQL named
 * lock (GET_LOCK / IS_USED_LOCK / RELEASE_LOCK) or, on PostgreSQL, a session
 * advisory lock. Either is held by the session, not by the process: it goes
 * away when the server sees the session end, and only then. That is what makes
 * a stale lock possible (a session the server still believes in, whose process
 * is gone) and what an operator ends with KILL <id> / pg_terminate_backend.
 */
import { createHash } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Sql, SqlBackend } from './sql';

export const LEADER_LOCK_NAME = 'gpu_orchestrator_leader';

/** The advisory lock key PostgreSQL holds for a lock name: the first 8 bytes of its SHA-256, signed. */
export function advisoryKey(name: string): bigint {
  return createHash('sha256').update(name).digest().readBigInt64BE(0);
}

/** How pg_locks shows a bigint advisory key: classid = high 32 bits, objid = low 32 bits, objsubid = 1. */
export function advisoryLockRow(key: bigint): { classid: number; objid: number; objsubid: number } {
  const unsigned = BigInt.asUintN(64, key);
  return { classid: Number(unsigned >> 32n), objid: Number(unsigned & 0xffffffffn), objsubid: 1 };
}

export interface LockSession {
  /** The server's id of this session: CONNECTION_ID() (processlist Id) or pg_backend_pid(). */
  readonly sessionId: number;
  /** Tries to take the lock without waiting. */
  tryAcquire(): Promise<boolean>;
  /** The session id holding the lock, or null when it is free. */
  holder(): Promise<number | null>;
  release(): Promise<void>;
  /** Closes the socket: the server drops the session and its lock. */
  destroy(): void;
  /** Called once when the server ended the session or the socket broke. */
  onLost(fn: (err: Error) => void): void;
}

/** Tells the session's listeners, once, that its connection is gone (an error and the close both report it). */
function sessionLoss(): { fire(err: Error): void; onLost(fn: (err: Error) => void): void } {
  const listeners: ((err: Error) => void)[] = [];
  let gone = false;
  return {
    fire: (err) => {
      if (gone) return;
      gone = true;
      for (const fn of listeners) fn(err);
    },
    onLost: (fn) => listeners.push(fn),
  };
}

export async function openLockSession(backend: SqlBackend, lockName: string, applicationName: string): Promise<LockSession> {
  return backend.kind === 'mysql' ? mysqlSession(backend.url, lockName) : postgresSession(backend.url, lockName, applicationName);
}

async function mysqlSession(url: string, lockName: string): Promise<LockSession> {
  const conn = await mysql.createConnection({ uri: url, timezone: 'Z', enableKeepAlive: true });
  const { fire, onLost } = sessionLoss();
  conn.on('error', fire);
  // The promise wrapper forwards the underlying connection's events; 'end' comes when the server closed the socket.
  (conn as unknown as NodeJS.EventEmitter).on('end', () => fire(new Error('Connection lost: The server closed the connection.')));
  const one = async (text: string, params: unknown[]) => {
    const [rows] = await conn.query(text, params);
    return (rows as Record<string, unknown>[])[0] ?? {};
  };
  const sessionId = Number((await one('SELECT CONNECTION_ID() AS id', [])).id);
  return {
    sessionId,
    tryAcquire: async () => Number((await one('SELECT GET_LOCK(?, 0) AS got', [lockName])).got) === 1,
    holder: async () => {
      const v = (await one('SELECT IS_USED_LOCK(?) AS holder', [lockName])).holder;
      return v === null || v === undefined ? null : Number(v);
    },
    release: async () => {
      await one('SELECT RELEASE_LOCK(?) AS released', [lockName]);
    },
    destroy: () => conn.destroy(),
    onLost,
  };
}

async function postgresSession(url: string, lockName: string, applicationName: string): Promise<LockSession> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName, keepAlive: true });
  const { fire, onLost } = sessionLoss();
  client.on('error', fire);
  client.on('end', () => fire(new Error('Connection terminated')));
  await client.connect();
  const key = advisoryKey(lockName).toString();
  const one = async (text: string, params: unknown[]) => (await client.query(text, params)).rows[0] as Record<string, unknown>;
  const sessionId = Number((await one('SELECT pg_backend_pid() AS id', [])).id);
  return {
    sessionId,
    tryAcquire: async () => (await one('SELECT pg_try_advisory_lock($1::bigint) AS got', [key])).got === true,
    holder: async () => {
      const { classid, objid } = advisoryLockRow(BigInt(key));
      const row = await one(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1 AND objid = $2 AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        [classid, objid],
      );
      return row?.pid === undefined ? null : Number(row.pid);
    },
    release: async () => {
      await one('SELECT pg_advisory_unlock($1::bigint) AS released', [key]);
    },
    destroy: () => {
      // end() sends Terminate and closes the socket; the server ends the backend and drops its locks.
      client.end().catch(() => undefined);
    },
    onLost,
  };
}

/** Who holds the lock, asked on any connection: IS_USED_LOCK's session id, or the PostgreSQL backend pid in pg_locks; null when free. */
export async function lockHolder(sql: Sql, lockName: string): Promise<number | null> {
  if (sql.kind === 'mysql') {
    const v = (await sql.query('SELECT IS_USED_LOCK(?) AS holder', [lockName]))[0]?.holder;
    return v === null || v === undefined ? null : Number(v);
  }
  const { classid, objid } = advisoryLockRow(advisoryKey(lockName));
  const rows = await sql.query(
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ? AND objid = ? AND objsubid = 1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    [classid, objid],
  );
  return rows[0]?.pid === undefined ? null : Number(rows[0].pid);
}
