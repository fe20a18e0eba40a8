import type { AlertingEndpoints } from '../../capabilities/alerting/alert-check-activities';
import fs from 'node:fs';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Pool } from 'pg';
import pino from 'pino';
import { ledgerWorkflowId, NODE_SCOPE_KIND, scopeKey, type BudgetConfig } from '../../domain/disruption';
import { ledgerStateQuery, slotReleaseSignal } from '../../domain/disruption-messages';
import { InventorySchema, type Inventory } from '../../domain/inventory';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import { connectTemporal, installTemporalRuntime } from '../../runtime/bootstrap';
import { installTracing } from '../../runtime/tracing';
import { bundleWorkflows, createRunbookWorker } from '../../workers/worker';
import { composeActivities } from '../../workers/compose';
import { testEnv } from './test-env';
import { testDirectory } from './principals';
import type { ApprovalSettings } from '../../capabilities/approvals/approval-activities';
import { LabAdmin } from '../../lab/admin-client';

export { LabAdmin, type LabRecords } from '../../lab/admin-client';

/** Quiet by default; TEST_LOG_LEVEL=info shows the engine's own log lines. */
export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'error' });

export interface WorkerOverrides {
  inventory?: Inventory;
  /** The engine's database for this worker (default: the shared test database). */
  pool?: Pool;
  ssh?: Partial<{ connectTimeoutMs: number; commandTimeoutMs: number; outputLimitBytes: number }>;
  shutdownGraceMs?: number;
  /**
   * Disruption caps by label. Default: none, so every run leases its own node only and
   * the tests of one node never wait on another's; the budget tests set their own.
   */
  budgets?: BudgetConfig;
  /** 0: no workflow cache, so every task and query replays the history from the start. */
  maxCachedWorkflows?: number;
  /** Approval rules (default: signals checked against the test principals, built-in minimums, no webhooks). */
  approvals?: Partial<ApprovalSettings>;
  /** Another fleet than the shared lab (a test that starts a lab of its own). */
  fleet?: {
    inventory: Inventory;
    platformUrl: string;
    platformToken: string;
    sshPrivateKey: Buffer;
    orchestrators?: OrchestratorCluster[];
    alerting?: AlertingEndpoints;
  };
}

/** The task queue the tests' disruption ledgers run on. */
export const LEDGER_TASK_QUEUE = 'gpuaas-test-ledgers';

let runtimeInstalled = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * Connections to the stack globalSetup started, for one test file. Jest loads
 * modules per file, so each file installs the Temporal runtime once.
 */
export async function connectStack() {
  if (!runtimeInstalled) {
    installTemporalRuntime(testLogger);
    runtimeInstalled = true;
  }
  const tracing = installTracing({ serviceName: 'gpuaas-runbooks-test' });
  const temporal = await connectTemporal(testEnv('temporalAddress'), 'default');
  const { client, connection, nativeConnection } = temporal;
  const pool = new Pool({ connectionString: testEnv('databaseUrl'), max: 5 });
  const inventory = InventorySchema.parse(JSON.parse(fs.readFileSync(testEnv('inventoryFile'), 'utf8')));
  const lab = new LabAdmin(testEnv('platformUrl'), testEnv('platformToken'));
  // Disruption ledgers outlive any one test's worker: they run on a queue of their own,
  // polled by a workflow-only worker for as long as this file's stack is connected.
  let ledgers: { worker: Worker; running: Promise<void> } | undefined;
  const startLedgerWorker = async () => {
    const worker = await createRunbookWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: LEDGER_TASK_QUEUE,
      tracing,
      shutdownGraceMs: 1_000,
      workflowBundle: await (bundle ??= bundleWorkflows()),
    });
    return { worker, running: worker.run() };
  };
  /** Starts the ledger worker, once; a test whose workers run in other processes calls it itself. */
  const startLedgers = async (): Promise<void> => {
    ledgers ??= await startLedgerWorker();
  };

  /** The real activities a worker of this stack runs (also for calling one directly, with MockActivityEnvironment). */
  const activities = (opts: WorkerOverrides = {}) =>
    composeActivities({
      inventory: opts.inventory ?? inventory,
      sshPrivateKey: fs.readFileSync(testEnv('clientKeyFile')),
      platformUrl: testEnv('platformUrl'),
      platformToken: testEnv('platformToken'),
      // The lab serves its Loki- and Tempo-compatible reads beside its platform API.
      lokiUrl: testEnv('platformUrl'),
      tempoUrl: testEnv('platformUrl'),
      ...opts.fleet,
      ssh: { connectTimeoutMs: 5_000, commandTimeoutMs: 30_000, outputLimitBytes: 1024 * 1024, ...opts.ssh },
      pool: opts.pool ?? pool,
      logger: testLogger,
      temporal: client,
      budgets: opts.budgets ?? {},
      // The lab's fault injection is served beside its platform API.
      faultInjectionUrl: opts.fleet?.platformUrl ?? testEnv('platformUrl'),
      faultInjectionToken: opts.fleet?.platformToken ?? testEnv('platformToken'),
      ledgerTaskQueue: LEDGER_TASK_QUEUE,
      approvals: { signals: true, minApprovals: {}, escalationWebhooks: {}, principals: testDirectory, ...opts.approvals },
    });

  return {
    client,
    connection,
    nativeConnection,
    pool,
    inventory,
    lab,
    tracing,
    activities,
    /**
     * A worker on its own task queue with the real activities. A test may alter the
     * inventory, the SSH settings (e.g. a command timeout shorter than a diag) and
     * the shutdown grace.
     */
    async worker(taskQueue: string, opts: WorkerOverrides = {}): Promise<Worker> {
      bundle ??= bundleWorkflows();
      await startLedgers();
      return createRunbookWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        activities: activities(opts),
        tracing,
        shutdownGraceMs: opts.shutdownGraceMs ?? 5_000,
        maxCachedWorkflows: opts.maxCachedWorkflows,
        workflowBundle: await bundle,
      });
    },
    /** A worker (as `worker` makes it) on a fresh task queue named after `name`, for the length of `body`. */
    async withWorker<T>(name: string, body: (taskQueue: string) => Promise<T>, opts: WorkerOverrides = {}): Promise<T> {
      const taskQueue = uniqueTaskQueue(name);
      return (await this.worker(taskQueue, opts)).runUntil(body(taskQueue));
    },
    startLedgers,
    /**
     * Gives back the node's own disruption slot wherever an earlier suite left it held
     * (a run that ended held for an operator keeps it by design), as an operator's
     * `budgets release` would; runs an earlier suite left waiting for it are ended.
     */
    async freeNode(nodeId: string): Promise<void> {
      const handle = client.workflow.getHandle(ledgerWorkflowId(scopeKey(NODE_SCOPE_KIND, nodeId)));
      const running = await handle.describe().then(
        (d) => d.status.name === 'RUNNING',
        () => false,
      );
      if (!running) return;
      await startLedgers();
      const state = await handle.query(ledgerStateQuery);
      for (const w of state.waiters) {
        await client.workflow
          .getHandle(w.holder)
          .terminate('test clean-up: left waiting by an earlier test')
          .catch(() => undefined);
      }
      for (const h of state.holders) {
        await handle.signal(slotReleaseSignal, { holder: h.holder, node_id: h.node_id, actor: 'test', reason: 'left held by an earlier test' });
      }
      await eventually(async () => ((await handle.query(ledgerStateQuery)).holders.length === 0 ? true : undefined), `node/${nodeId} freed`);
    },
    async close() {
      if (ledgers) {
        ledgers.worker.shutdown();
        await ledgers.running;
      }
      await pool.end();
      await temporal.close();
    },
  };
}

export type Stack = Awaited<ReturnType<typeof connectStack>>;

/** Polls until `probe` returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

let queueCounter = 0;
export function uniqueTaskQueue(name: string): string {
  return `test-${name}-${process.pid}-${++queueCounter}`;
}
