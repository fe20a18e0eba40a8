import path from 'node:path';
import { MIGRATIONS_DIR, openDatabase, runMigrations, type Database } from '../infra/database';
import { startLab, type RunningLab } from '../lab';
import { Connection } from '@temporalio/client';
import { ensureSearchAttributes } from '../infra/search-attributes';
import { kindOf, orchestratorPgDatabase, resolveOrchestratorDb, type OrchestratorDb } from '../infra/orchestrator-db';
import { startLabAlerting, type LabAlerting } from '../infra/lab-alerting';
import { resolveRedis, type ResolvedRedis } from '../infra/redis-server';
import { resolveTemporalCli } from '../infra/temporal-cli';
import { startTemporalDevServer, type TemporalDevServer } from '../infra/temporal-dev-server';

export interface StackOptions {
  dataDir: string;
  log: (line: string) => void;
  /** An existing Temporal server; when unset the dev server is started with the real CLI. */
  temporalAddress?: string;
  temporalNamespace?: string;
  temporalPort?: number;
  temporalUiPort?: number;
  databaseUrl?: string;
  /** REDIS_URL: an existing Redis; when unset a redis-server from PATH is started under dataDir. */
  redisUrl?: string;
  /** ORCHESTRATOR_DB_URL: the orchestrator's database (mysql:// or postgres://); unset → a local or started MariaDB. */
  orchestratorDbUrl?: string;
  /** PROMETHEUS_URL / ALERTMANAGER_URL: existing ones for the lab's alert path; unset → started from PATH under dataDir. */
  prometheusUrl?: string;
  alertmanagerUrl?: string;
  /** Start the simulated fleet (default true); false when an inventory of real hosts is configured. */
  lab?:
    | false
    | {
        platformPort?: number;
        extraGpuNodes?: number;
        rackSize?: number;
        drainDelayMs?: number;
        rebootDelayMs?: number;
        timeScale?: number;
        /** Run the GPU orchestrator in the lab on this stack's Redis and SQL (MySQL when there is one). */
        orchestrator?: boolean;
      };
}

export interface Stack {
  temporalAddress: string;
  temporalUiUrl?: string;
  db: Database;
  /** The orchestrator's job streams and DLQ. */
  redis: ResolvedRedis;
  /** The orchestrator's MySQL/MariaDB (named-lock leader lock); absent when ORCHESTRATOR_DB_URL is a postgres:// URL. */
  orchestratorMysql?: OrchestratorDb;
  /** The orchestrator's PostgreSQL (advisory-lock leader lock): ORCHESTRATOR_DB_URL when it is postgres://, else gpuaas_orch beside the engine's tables. */
  orchestratorPg: OrchestratorDb;
  lab?: RunningLab;
  /** With the lab's orchestrator: Prometheus scraping it and Alertmanager paging the lab's on-call pager. */
  alerting?: LabAlerting;
  stop(): Promise<void>;
}

/**
 * Brings up the real components in dependency order: Temporal, PostgreSQL with
 * migrations, the orchestrator's Redis and SQL databases, then the lab. Used by
 * `npm start`, the benchmark and the tests, so all three run the same start-up.
 * On any failure, what started is stopped.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const part of started.reverse()) await part.stop().catch((e: Error) => opts.log(`stop failed: ${e.message}`));
  };
  try {
    let temporal: TemporalDevServer | undefined;
    if (opts.temporalAddress) {
      // An existing cluster: make sure the runbook search attributes exist there too.
      const connection = await Connection.connect({ address: opts.temporalAddress });
      try {
        await ensureSearchAttributes(connection, opts.temporalNamespace ?? 'default', { log: opts.log });
      } finally {
        await connection.close();
      }
    } else {
      const cli = await resolveTemporalCli({ log: opts.log });
      temporal = await startTemporalDevServer({
        cliPath: cli.path,
        dbFile: path.join(opts.dataDir, 'temporal.db'),
        port: opts.temporalPort,
        uiPort: opts.temporalUiPort,
        log: opts.log,
      });
      started.push(temporal);
    }
    const db = await openDatabase({ databaseUrl: opts.databaseUrl, dataDir: opts.dataDir, log: opts.log });
    started.push(db);
    const migrated = await runMigrations(db.pool, MIGRATIONS_DIR);
    opts.log(
      `migrations: ${migrated.applied.length} applied${migrated.applied.length ? ` (${migrated.applied.join(', ')})` : ''}, ${migrated.skipped.length} already in place`,
    );
    const redis = await resolveRedis({ dataDir: opts.dataDir, redisUrl: opts.redisUrl, log: opts.log });
    started.push(redis);
    // ORCHESTRATOR_DB_URL picks one backend. Otherwise MySQL/MariaDB is found or started, and the
    // PostgreSQL backend is a database beside the engine's: the lab and the tests use both locks.
    const pgChosen = opts.orchestratorDbUrl !== undefined && kindOf(opts.orchestratorDbUrl) === 'postgres';
    const resolveChosen = () => resolveOrchestratorDb({ dataDir: opts.dataDir, orchestratorDbUrl: opts.orchestratorDbUrl, log: opts.log });
    const orchestratorMysql = pgChosen ? undefined : await resolveChosen();
    if (orchestratorMysql) started.push(orchestratorMysql);
    const orchestratorPg = pgChosen ? await resolveChosen() : await orchestratorPgDatabase(db.url, opts.log);
    let lab: RunningLab | undefined;
    if (opts.lab !== false) {
      const { orchestrator, ...labOpts } = opts.lab ?? {};
      lab = await startLab({
        dataDir: path.join(opts.dataDir, 'lab'),
        ...labOpts,
        ...(orchestrator ? { orchestrator: { backends: { redisUrl: redis.url, db: orchestratorMysql ?? orchestratorPg } } } : {}),
      });
      started.push(lab);
    }
    let alerting: LabAlerting | undefined;
    if (lab?.orchestrator) {
      alerting = await startLabAlerting({
        dataDir: opts.dataDir,
        clusters: [lab.orchestrator.cluster],
        webhook: { url: lab.onCallWebhookUrl, token: lab.platformToken },
        timeScale: (opts.lab !== false && opts.lab?.timeScale) || 1,
        prometheusUrl: opts.prometheusUrl,
        alertmanagerUrl: opts.alertmanagerUrl,
        log: opts.log,
      });
      started.push(alerting);
    }
    return {
      temporalAddress: opts.temporalAddress ?? temporal!.address,
      temporalUiUrl: temporal?.uiUrl,
      db,
      redis,
      orchestratorMysql,
      orchestratorPg,
      lab,
      alerting,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
