import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { statusQuery } from '../../domain/messages';
import type { RunReport } from '../../domain/runbook';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../support/harness';
import { testEnv } from '../support/test-env';
import { clearHistory, startGpuFault } from './gpu-fault-scenarios';

const ROOT = path.resolve(__dirname, '../..');
const NODE = 'dev-gpu-3';
let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

/** The real worker entrypoint (`npm run worker`) as a separate OS process. */
function spawnWorker(taskQueue: string): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  // node itself with the tsx loader: the `tsx` CLI would run the worker in a
  // grandchild process, and SIGKILL would only reach the wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: testEnv('temporalAddress'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: testEnv('databaseUrl'),
      INVENTORY_FILE: testEnv('inventoryFile'),
      SSH_PRIVATE_KEY_FILE: testEnv('clientKeyFile'),
      PLATFORM_API_URL: testEnv('platformUrl'),
      PLATFORM_API_TOKEN: testEnv('platformToken'),
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = eventually(async () => (out.includes('"msg":"worker started"') ? true : undefined), 'worker process to start', 90_000, 200).then(() => undefined);
  return { child, ready, output: () => out };
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

test('worker SIGKILLed mid-drain and restarted → run completes with exactly one cordon and one uncordon', async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await stack.lab.injectXid(NODE, 1, 48);
  await stack.lab.stickDrain(NODE);
  const taskQueue = uniqueTaskQueue('crash');

  const first = spawnWorker(taskQueue);
  let second: ReturnType<typeof spawnWorker> | undefined;
  try {
    await first.ready;
    const handle = await startGpuFault(stack, taskQueue, { node_id: NODE, drain_timeout: '2m', poll_interval: '200ms' });
    await eventually(async () => ((await handle.query(statusQuery)).current_step === 'wait_for_drain' ? true : undefined), 'the drain wait');
    expect(await stack.lab.applied(NODE, 'cordon')).toBe(1);

    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(first.child.signalCode).toBe('SIGKILL');

    // The tenant's jobs end while no worker is alive.
    const evict = await fetch(`${testEnv('platformUrl')}/api/v1/nodes/${NODE}/allocations/evict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${testEnv('platformToken')}`, 'content-type': 'application/json', 'idempotency-key': `test-evict-${Date.now()}` },
      body: JSON.stringify({ reason: 'jobs finished while the worker was down' }),
    });
    expect(evict.status).toBe(200);

    second = spawnWorker(taskQueue);
    await second.ready;
    const report: RunReport = await handle.result();
    expect(report.outcome).toBe('returned_to_service');
    expect(await stack.lab.applied(NODE, 'cordon')).toBe(1);
    expect(await stack.lab.applied(NODE, 'uncordon')).toBe(1);
    expect(await stack.lab.applied(NODE, 'reset_gpu')).toBe(1);
    // The drain wait was retried on the new worker after the heartbeat timeout.
    const waits = (await handle.fetchHistory()).events!.filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt! > 1);
    expect(waits.length).toBeGreaterThanOrEqual(1);
  } finally {
    for (const w of [first, second]) {
      if (w && w.child.exitCode === null && w.child.signalCode === null) {
        w.child.kill('SIGTERM');
        await exited(w.child);
      }
    }
  }
});
