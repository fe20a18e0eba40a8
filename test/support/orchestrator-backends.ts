/**
 * The orchestrator lab's backends for tests: Redis from REDIS_URL, the SQL
 * servers from ORCHESTRATOR_MYSQL_URL / ORCHESTRATOR_PG_URL, each defaulting to
 * this machine's local services (PostgreSQL: the test stack's database). Every
 * suite gets a database of its own, dropped afterwards, and a Redis database
 * index kept for the orchestrator's streams (the lab deletes them on reset).
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { SqlBackend } from '../../lab/orchestrator/sql';
import { testEnv } from './test-env';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/13';
export const DEFAULT_MYSQL_URL = 'mysql://root@127.0.0.1:3306/test';

export function redisUrl(): string {
  return process.env.REDIS_URL || DEFAULT_REDIS_URL;
}

export interface TestDatabase {
  backend: SqlBackend;
  drop(): Promise<void>;
}

const withDatabase = (url: string, name: string) => {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
};

/** A fresh database named after the suite and this process on the MySQL/MariaDB server. */
export async function mysqlDatabase(suite: string): Promise<TestDatabase> {
  const base = process.env.ORCHESTRATOR_MYSQL_URL || DEFAULT_MYSQL_URL;
  const name = `orch_${suite}_${process.pid}`;
  const admin = await mysql.createConnection({ uri: base });
  try {
    await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
    await admin.query(`CREATE DATABASE \`${name}\``);
  } finally {
    await admin.end();
  }
  return {
    backend: { kind: 'mysql', url: withDatabase(base, name) },
    drop: async () => {
      const c = await mysql.createConnection({ uri: base });
      try {
        await c.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await c.end();
      }
    },
  };
}

/** A fresh database on the PostgreSQL server (advisory locks are per database, so runs never see each other's). */
export async function postgresDatabase(suite: string): Promise<TestDatabase> {
  const base = process.env.ORCHESTRATOR_PG_URL || testEnv('databaseUrl');
  const name = `orch_${suite}_${process.pid}`;
  const run = async (text: string) => {
    const c = new pg.Client({ connectionString: base });
    await c.connect();
    try {
      await c.query(text);
    } finally {
      await c.end();
    }
  };
  await run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await run(`CREATE DATABASE "${name}"`);
  return { backend: { kind: 'postgres', url: withDatabase(base, name) }, drop: () => run(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`) };
}
