/**
 * The real worker entrypoint (`npm run worker`) as a separate OS process against
 * the test stack: for tests of what only a whole process shows (a SIGKILL mid-run,
 * its log lines leaving the process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { eventually, LEDGER_TASK_QUEUE } from './harness';
import { testEnv } from './test-env';

const ROOT = path.resolve(__dirname, '../..');

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves once the worker logged that it started. */
  ready: Promise<void>;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
}

export function spawnWorker(taskQueue: string, env: Record<string, string> = {}): WorkerProcess {
  // node itself with the tsx loader: the `tsx` CLI would run the worker in a
  // grandchild process, and SIGKILL would only reach the wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: testEnv('temporalAddress'),
      TEMPORAL_TASK_QUEUE: taskQueue,
      TEMPORAL_LEDGER_TASK_QUEUE: LEDGER_TASK_QUEUE,
      DATABASE_URL: testEnv('databaseUrl'),
      INVENTORY_FILE: testEnv('inventoryFile'),
      SSH_PRIVATE_KEY_FILE: testEnv('clientKeyFile'),
      PLATFORM_API_URL: testEnv('platformUrl'),
      PLATFORM_API_TOKEN: testEnv('platformToken'),
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const ready = eventually(async () => (out.includes('"msg":"worker started"') ? true : undefined), 'worker process to start', 90_000, 200).then(
    () => undefined,
  );
  return { child, ready, output: () => out };
}

export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

/** SIGTERM (the SDK drains, the process flushes its logs) and wait, unless it already ended. */
export async function stopWorker(w: WorkerProcess | undefined): Promise<void> {
  if (!w || w.child.exitCode !== null || w.child.signalCode !== null) return;
  w.child.kill('SIGTERM');
  await exited(w.child);
}
