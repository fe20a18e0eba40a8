/**
 * The orchestrator's tables, as the page names them (orchestrator_jobs,
 * orchestrator_leases, worker_pools) plus where replicas report in
 * (orchestrator_replicas: heartbeat, lock session) and the maintenance flag
 * (orchestrator_control), so every replica and every new leader sees them.
 */
import type { Sql, SqlKind } from './sql';

const TABLES = ['orchestrator_leases', 'orchestrator_jobs', 'worker_pools', 'orchestrator_replicas', 'orchestrator_control'] as const;

function ddl(kind: SqlKind): string[] {
  const ts = kind === 'mysql' ? 'DATETIME(3)' : 'TIMESTAMPTZ';
  return [
    `CREATE TABLE IF NOT EXISTS worker_pools (
      pool_id VARCHAR(64) PRIMARY KEY,
      node_id VARCHAR(64) NOT NULL,
      model VARCHAR(128) NOT NULL,
      workers INT NOT NULL,
      status VARCHAR(16) NOT NULL,
      memory_mib BIGINT NOT NULL DEFAULT 0,
      created_at ${ts} NOT NULL,
      updated_at ${ts} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS orchestrator_jobs (
      job_id VARCHAR(128) PRIMARY KEY,
      stream_id VARCHAR(64) NOT NULL,
      model VARCHAR(128) NOT NULL,
      status VARCHAR(16) NOT NULL,
      attempts INT NOT NULL DEFAULT 0,
      completions INT NOT NULL DEFAULT 0,
      pool_id VARCHAR(64) NULL,
      worker_pid INT NULL,
      lease_expires_at ${ts} NULL,
      cause VARCHAR(64) NULL,
      error TEXT NULL,
      created_at ${ts} NOT NULL,
      updated_at ${ts} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS orchestrator_leases (
      lease_id VARCHAR(160) PRIMARY KEY,
      job_id VARCHAR(128) NOT NULL,
      pool_id VARCHAR(64) NOT NULL,
      node_id VARCHAR(64) NOT NULL,
      worker_pid INT NOT NULL,
      replica_id VARCHAR(64) NOT NULL,
      acquired_at ${ts} NOT NULL,
      expires_at ${ts} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS orchestrator_replicas (
      replica_id VARCHAR(64) PRIMARY KEY,
      node_id VARCHAR(64) NOT NULL,
      pid INT NOT NULL,
      version VARCHAR(32) NOT NULL,
      is_leader INT NOT NULL,
      lock_session_id BIGINT NULL,
      started_at ${ts} NOT NULL,
      heartbeat_at ${ts} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS orchestrator_control (
      name VARCHAR(64) PRIMARY KEY,
      value VARCHAR(64) NOT NULL,
      updated_at ${ts} NOT NULL)`,
  ];
}

export async function ensureSchema(sql: Sql): Promise<void> {
  for (const statement of ddl(sql.kind)) await sql.exec(statement);
}

/** Every row gone (lab reset); the tables stay. */
export async function clearTables(sql: Sql): Promise<void> {
  for (const t of TABLES) await sql.exec(`DELETE FROM ${t}`);
}
