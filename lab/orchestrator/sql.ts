/**
 * The orchestrator's database, MySQL/MariaDB (mysql2) or PostgreSQL (pg), behind
 * one small interface: queries are written once with `?` placeholders and the
 * few statements that differ (upserts, the leader lock) are built per dialect.
 * Times are passed as Date and stored in UTC (mysql2 with timezone 'Z').
 */
import mysql from 'mysql2/promise';
import pg from 'pg';

export type SqlKind = 'mysql' | 'postgres';

export interface SqlBackend {
  kind: SqlKind;
  url: string;
}

export type SqlValue = string | number | boolean | Date | null;
export type Row = Record<string, unknown>;

export interface Sql {
  readonly kind: SqlKind;
  query<T extends Row = Row>(text: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  exec(text: string, params?: readonly SqlValue[]): Promise<number>;
  close(): Promise<void>;
}

/** `?` placeholders as PostgreSQL numbers them ($1, $2, ...); none of our statements has a literal "?". */
export function numberPlaceholders(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}

/** INSERT or replace by primary key, in the dialect's own words. */
export function upsertSql(kind: SqlKind, table: string, key: string, columns: readonly string[], keepOnUpdate: readonly string[] = []): string {
  const cols = columns.join(', ');
  const marks = columns.map(() => '?').join(', ');
  const rest = columns.filter((c) => c !== key && !keepOnUpdate.includes(c));
  if (kind === 'mysql') return `INSERT INTO ${table} (${cols}) VALUES (${marks}) ON DUPLICATE KEY UPDATE ${rest.map((c) => `${c} = VALUES(${c})`).join(', ')}`;
  return `INSERT INTO ${table} (${cols}) VALUES (${marks}) ON CONFLICT (${key}) DO UPDATE SET ${rest.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}`;
}

/** The error an INSERT gets when the primary key is already there (MySQL ER_DUP_ENTRY, PostgreSQL unique_violation). */
export function isDuplicateKey(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ER_DUP_ENTRY' || code === '23505';
}

/** A connection pool; `name` shows in PostgreSQL's pg_stat_activity.application_name. */
export function openSql(backend: SqlBackend, name: string, max = 4): Sql {
  if (backend.kind === 'mysql') {
    const pool = mysql.createPool({ uri: backend.url, timezone: 'Z', connectionLimit: max, enableKeepAlive: true });
    return {
      kind: 'mysql',
      async query<T extends Row>(text: string, params: readonly SqlValue[] = []) {
        const [rows] = await pool.query(text, params as SqlValue[]);
        return rows as T[];
      },
      async exec(text, params = []) {
        const [res] = await pool.query(text, params as SqlValue[]);
        return (res as mysql.ResultSetHeader).affectedRows ?? 0;
      },
      close: () => pool.end(),
    };
  }
  const pool = new pg.Pool({ connectionString: backend.url, max, application_name: name });
  // An idle client the server ended (pg_terminate_backend) errors on the pool; the next query gets a new one.
  pool.on('error', () => undefined);
  return {
    kind: 'postgres',
    async query<T extends Row>(text: string, params: readonly SqlValue[] = []) {
      return (await pool.query(numberPlaceholders(text), params as SqlValue[])).rows as T[];
    },
    async exec(text, params = []) {
      return (await pool.query(numberPlaceholders(text), params as SqlValue[])).rowCount ?? 0;
    },
    close: () => pool.end(),
  };
}
