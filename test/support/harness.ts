import fs from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, type Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { Pool } from 'pg';
import pino from 'pino';
import { InventorySchema, type Inventory } from '../../domain/inventory';
import { temporalLogger } from '../../workers/logger';
import { installTracing } from '../../workers/tracing';
import { bundleWorkflows, createRunbookWorker } from '../../workers/worker';
import { composeActivities } from '../../workers/compose';
import { testEnv } from './test-env';
import { LabAdmin } from '../../lab/admin-client';

export { LabAdmin, type LabRecords } from '../../lab/admin-client';

/** Quiet by default; TEST_LOG_LEVEL=info shows the engine's own log lines. */
export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'error' });

let runtimeInstalled = false;
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * Connections to the stack globalSetup started, for one test file. Jest loads
 * modules per file, so each file installs the Temporal runtime once.
 */
export async function connectStack() {
  if (!runtimeInstalled) {
    Runtime.install({ logger: temporalLogger(testLogger), telemetryOptions: { logging: { forward: {}, filter: 'WARN' } } });
    runtimeInstalled = true;
  }
  const tracing = installTracing({ serviceName: 'gpuaas-runbooks-test' });
  const address = testEnv('temporalAddress');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
  const nativeConnection = await NativeConnection.connect({ address });
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
    /** A worker on its own task queue with the real activities; `inventory` may be altered for a test. */
    async worker(taskQueue: string, opts: { inventory?: Inventory } = {}): Promise<Worker> {
      bundle ??= bundleWorkflows();
      const activities = composeActivities({
        inventory: opts.inventory ?? inventory,
        sshPrivateKey: fs.readFileSync(testEnv('clientKeyFile')),
        sshConnectTimeoutMs: 5_000,
        sshCommandTimeoutMs: 30_000,
        sshOutputLimitBytes: 1024 * 1024,
        platformUrl: testEnv('platformUrl'),
        platformToken: testEnv('platformToken'),
        pool,
        logger: testLogger,
      });
      return createRunbookWorker({ connection: nativeConnection, namespace: 'default', taskQueue, activities, tracing, workflowBundle: await bundle });
    },
    async close() {
      await pool.end();
      await connection.close();
      await nativeConnection.close();
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
