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

/** Quiet by default; TEST_LOG_LEVEL=info shows the engine's own log lines. */
export const testLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });

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

export interface LabRecords {
  commands: { seq: number; node_id: string; host_name: string; command: string; exit_code: number | null; at: string }[];
  mutations: { seq: number; node_id: string; kind: string; idempotency_key?: string; applied: boolean; at: string }[];
}

/** The lab's fault-injection and record endpoints, over HTTP like any operator would use them. */
export class LabAdmin {
  constructor(private readonly baseUrl: string) {}

  reset() {
    return this.post('/lab/v1/reset', {});
  }
  injectXid(nodeId: string, gpuIndex: number, xid: number, persistent = false) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/xid`, { gpu_index: gpuIndex, xid, persistent });
  }
  failDiag(nodeId: string, gpuIndex: number) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/diag-fail`, { gpu_index: gpuIndex });
  }
  stickDrain(nodeId: string) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/stuck-drain`, {});
  }
  async records(nodeId?: string): Promise<LabRecords> {
    const res = await fetch(`${this.baseUrl}/lab/v1/records${nodeId ? `?node_id=${nodeId}` : ''}`);
    if (!res.ok) throw new Error(`lab records: ${res.status} ${await res.text()}`);
    return (await res.json()) as LabRecords;
  }
  async hostState(nodeId: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/lab/v1/hosts/${nodeId}/state`);
    return (await res.json()) as Record<string, unknown>;
  }
  /** Mutations of one kind that really took effect (idempotent replays excluded). */
  async applied(nodeId: string, kind: string): Promise<number> {
    const r = await this.records(nodeId);
    return r.mutations.filter((m) => m.kind === kind && m.applied).length;
  }
  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`lab ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }
}

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
