/**
 * A lab of its own running the GPU orchestrator, for the orchestrator runbooks'
 * tests: real Redis and a fresh database on the MySQL/MariaDB or PostgreSQL
 * server globalSetup found, the replicas electing every `electionMs` of real
 * time, and what a test worker needs to act on it (`fleet`, with the cluster).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startLabAlerting, type LabAlerting } from '../../infra/lab-alerting';
import { LabAdmin } from '../../lab/admin-client';
import { startLab, type RunningLab } from '../../lab/index';
import { ORCHESTRATOR_DLQ, ORCHESTRATOR_STREAM, type OrchestratorCluster } from '../../domain/orchestrator';
import { mysqlDatabase, postgresDatabase, redisUrl, type TestDatabase } from './orchestrator-backends';

export interface OrchestratorLabOptions {
  backend: 'mysql' | 'postgres';
  /** Names the per-suite database. */
  suite: string;
  timeScale: number;
  electionMs?: number;
  extraGpuNodes?: number;
  /** Start a Prometheus and an Alertmanager of the suite's own around the lab (the alert path to the on-call pager). */
  alerting?: boolean;
}

export interface TestOrchestratorLab {
  lab: RunningLab;
  admin: LabAdmin;
  cluster: OrchestratorCluster;
  /** For `stack.worker(..., { fleet })`. */
  fleet: {
    inventory: RunningLab['inventory'];
    platformUrl: string;
    platformToken: string;
    sshPrivateKey: Buffer;
    orchestrators: OrchestratorCluster[];
    alerting?: { prometheusUrl: string; alertmanagerUrl: string };
  };
  redis: Redis;
  /** With `alerting`: the suite's Prometheus (scraping this lab's replicas) and Alertmanager (to the lab's on-call pager). */
  alerting?: LabAlerting;
  /** POST /lab/v1/orchestrator/faults/<name>; returns what was applied. */
  fault(name: string, body?: object): Promise<Record<string, unknown>>;
  /** The lab's whole orchestrator state (replicas, pools with PIDs and memory, counters). */
  state(): Promise<OrchestratorState>;
  stop(): Promise<void>;
}

export interface OrchestratorState {
  replicas: { node_id: string; is_leader: boolean; unit: { pid: number } | null }[];
  pools: { pool_id: string; node_id: string; status: string; memory_mib: number; workers: { pid: number; gpu: number; rss_mib: number }[] }[];
  counters: { processed: number; retries: number; deadLettered: number; evictions: number };
  other_processes: { node_id: string; pid: number; user: string; args: string }[];
}

export async function startOrchestratorLab(opts: OrchestratorLabOptions): Promise<TestOrchestratorLab> {
  const dataDir = mkdtempSync(join(tmpdir(), `gpuaas-${opts.suite}-${opts.backend}-`));
  const db: TestDatabase = opts.backend === 'mysql' ? await mysqlDatabase(opts.suite) : await postgresDatabase(opts.suite);
  const lab = await startLab({
    dataDir,
    extraGpuNodes: opts.extraGpuNodes ?? 1,
    timeScale: opts.timeScale,
    orchestrator: {
      backends: { redisUrl: redisUrl(), db: db.backend },
      electionIntervalMs: opts.electionMs ?? 200,
      // MySQL named locks are server-wide: a lock of this run's own, so parallel runs on one server stay apart.
      lockName: opts.backend === 'mysql' ? `gpu_orchestrator_leader_${process.pid}` : undefined,
    },
  });
  const admin = new LabAdmin(lab.platformUrl, lab.platformToken);
  const redis = new Redis(redisUrl(), { connectionName: `${opts.suite}-test` });
  const cluster = lab.orchestrator!.cluster;
  const alerting = opts.alerting
    ? await startLabAlerting({
        dataDir,
        clusters: [cluster],
        webhook: { url: lab.onCallWebhookUrl, token: lab.platformToken },
        timeScale: opts.timeScale,
      }).catch(async (err: unknown) => {
        await lab.stop();
        throw err;
      })
    : undefined;
  return {
    lab,
    admin,
    cluster,
    fleet: {
      inventory: lab.inventory,
      platformUrl: lab.platformUrl,
      platformToken: lab.platformToken,
      sshPrivateKey: readFileSync(lab.clientKeyPath),
      orchestrators: [cluster],
      alerting: alerting && { prometheusUrl: alerting.prometheus.url, alertmanagerUrl: alerting.alertmanager.url },
    },
    redis,
    alerting,
    fault: (name, body = {}) => admin.orchestratorFault(name, body),
    state: async () => (await admin.orchestratorState()) as unknown as OrchestratorState,
    async stop() {
      await alerting?.stop();
      await lab.stop();
      // The streams live in a shared Redis: leave nothing behind.
      await redis.del(ORCHESTRATOR_STREAM, ORCHESTRATOR_DLQ);
      redis.disconnect();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
