/**
 * The orchestrator lab's backends for tests, as globalSetup found or started them
 * (infra/redis-server.ts, infra/orchestrator-db.ts): the Redis, and the MySQL/MariaDB
 * and PostgreSQL servers. Every suite gets a database of its own on each SQL server,
 * dropped afterwards; the lab deletes its streams on reset.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { SqlBackend } from '../../lab/orchestrator/sql';
import { testEnv } from './test-env';

export function redisUrl(): string {
  return testEnv('redisUrl');
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
  const base = testEnv('orchestratorMysqlUrl');
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
  const base = testEnv('orchestratorPgUrl');
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
