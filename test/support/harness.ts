import fs from 'node:fs';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { Pool } from 'pg';
import pino from 'pino';
import { InventorySchema, type Inventory } from '../../domain/inventory';
import { connectTemporal, installTemporalRuntime } from '../../runtime/bootstrap';
import { installTracing } from '../../runtime/tracing';
import { bundleWorkflows, createRunbookWorker } from '../../workers/worker';
import { composeActivities } from '../../workers/compose';
import { testEnv } from './test-env';
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
}

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
  const lab = new LabAdmin(testEnv('platformUrl'));

  return {
    client,
    connection,
    nativeConnection,
    pool,
    inventory,
    lab,
    tracing,
    /**
     * A worker on its own task queue with the real activities. A test may alter the
     * inventory, the SSH settings (e.g. a command timeout shorter than a diag) and
     * the shutdown grace.
     */
    async worker(taskQueue: string, opts: WorkerOverrides = {}): Promise<Worker> {
      bundle ??= bundleWorkflows();
      const activities = composeActivities({
        inventory: opts.inventory ?? inventory,
        sshPrivateKey: fs.readFileSync(testEnv('clientKeyFile')),
        ssh: { connectTimeoutMs: 5_000, commandTimeoutMs: 30_000, outputLimitBytes: 1024 * 1024, ...opts.ssh },
        platformUrl: testEnv('platformUrl'),
        platformToken: testEnv('platformToken'),
        pool: opts.pool ?? pool,
        logger: testLogger,
      });
      return createRunbookWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        activities,
        tracing,
        shutdownGraceMs: opts.shutdownGraceMs ?? 5_000,
        workflowBundle: await bundle,
      });
    },
    async close() {
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
