/**
 * Records workflow histories for the replay tests. Each runbook's
 * `test/record-histories.ts` names its scenarios and calls this; it runs them
 * for real against a fresh stack (dev server, PostgreSQL, lab) and writes
 * `runbooks/<name>/histories/<version>-<scenario>.json`. Re-record only when a
 * workflow change is released on purpose; an unintended change must fail
 * replay instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { findFreePort } from '../../infra/free-port';
import { resolveTemporalCli } from '../../infra/temporal-cli';
import { startStack } from '../../scripts/stack';
import { connectStack, uniqueTaskQueue, type Stack, type WorkerOverrides } from './harness';
import { TEST_ENV_KEYS } from './test-env';

/** Drives one recorded run; `{ open }` for a long-lived workflow recorded as it stands (a ledger). */
export type Scenario = (s: Stack, taskQueue: string) => Promise<WorkflowHandle | { open: WorkflowHandle }>;

export interface Recording {
  /** The runbook's histories folder. */
  out: string;
  /** The released version being recorded (v1, v2, ...): the file name prefix. */
  version: string;
  scenarios: Record<string, Scenario>;
  /** The recording worker's settings (e.g. disruption budgets), when not the harness's defaults. */
  worker?: WorkerOverrides;
  /** Run the lab's GPU orchestrator (on the stack's Redis and SQL) and give the worker its cluster. */
  orchestrator?: boolean;
}

/**
 * Records every scenario, or only those named on the command line (to add a
 * scenario to a released version without re-recording the others).
 */
export async function recordHistories(
  { out, version, scenarios, worker: workerOptions, orchestrator }: Recording,
  only: string[] = process.argv.slice(2),
): Promise<void> {
  const unknown = only.filter((n) => !(n in scenarios));
  if (unknown.length) throw new Error(`no scenario named ${unknown.join(', ')}; known: ${Object.keys(scenarios).join(', ')}`);
  const cli = await resolveTemporalCli();
  await withLabStack(
    workerOptions,
    async (s, taskQueue, temporalAddress) => {
      fs.mkdirSync(out, { recursive: true });
      for (const [name, drive] of Object.entries(scenarios)) {
        if (only.length && !only.includes(name)) continue;
        const driven = await drive(s, taskQueue);
        const handle = 'open' in driven ? driven.open : driven;
        const outcome = 'open' in driven ? 'still open' : ((await handle.result()) as { outcome?: string }).outcome;
        const file = path.join(out, `${version}-${name}.json`);
        // The CLI writes the same JSON as a Web UI export, which replay accepts as is.
        const json = execFileSync(cli.path, ['workflow', 'show', '--workflow-id', handle.workflowId, '--output', 'json', '--address', temporalAddress]);
        fs.writeFileSync(file, json);
        process.stderr.write(`[record] ${name}: ${outcome} → ${path.relative(process.cwd(), file)}\n`);
      }
    },
    { orchestrator },
  );
}

/**
 * A fresh stack (dev server, PostgreSQL, the lab at the tests' time scale) and a worker
 * on it for the length of `body`; everything is stopped and removed afterwards. For
 * scripts that drive real runs outside jest (recording histories, timing the lab).
 */
export async function withLabStack(
  workerOptions: WorkerOverrides | undefined,
  body: (s: Stack, taskQueue: string, temporalAddress: string) => Promise<void>,
  opts: { orchestrator?: boolean } = {},
): Promise<void> {
  const dir = path.resolve(__dirname, '../../.data', `record-${process.pid}`);
  const stack = await startStack({
    dataDir: dir,
    log: (l) => process.stderr.write(`[record] ${l}\n`),
    temporalPort: await findFreePort(),
    temporalUiPort: await findFreePort(),
    databaseUrl: process.env.DATABASE_URL,
    redisUrl: process.env.REDIS_URL,
    orchestratorDbUrl: process.env.ORCHESTRATOR_DB_URL,
    lab: { extraGpuNodes: 3, drainDelayMs: 100, rebootDelayMs: 300, timeScale: 0.002, orchestrator: opts.orchestrator },
  });
  Object.assign(process.env, {
    [TEST_ENV_KEYS.temporalAddress]: stack.temporalAddress,
    [TEST_ENV_KEYS.databaseUrl]: stack.db.url,
    [TEST_ENV_KEYS.inventoryFile]: stack.lab!.inventoryPath,
    [TEST_ENV_KEYS.clientKeyFile]: stack.lab!.clientKeyPath,
    [TEST_ENV_KEYS.platformUrl]: stack.lab!.platformUrl,
    [TEST_ENV_KEYS.platformToken]: stack.lab!.platformToken,
  });
  const s = await connectStack();
  const taskQueue = uniqueTaskQueue('record');
  const cluster = stack.lab!.orchestrator?.cluster;
  const fleet = cluster && {
    inventory: s.inventory,
    platformUrl: stack.lab!.platformUrl,
    platformToken: stack.lab!.platformToken,
    sshPrivateKey: fs.readFileSync(stack.lab!.clientKeyPath),
    orchestrators: [cluster],
    alerting: stack.alerting && { prometheusUrl: stack.alerting.prometheus.url, alertmanagerUrl: stack.alerting.alertmanager.url },
  };
  const worker = await s.worker(taskQueue, { ...workerOptions, ...(fleet ? { fleet } : {}) });
  try {
    await worker.runUntil(body(s, taskQueue, stack.temporalAddress));
  } finally {
    await s.close();
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a recording as a script: exits non-zero, with the stack trace, on any failure. */
export function runRecording(recording: Recording): void {
  recordHistories(recording).catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
