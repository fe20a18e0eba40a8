/**
 * Records workflow histories for the replay tests: `npx tsx runbooks/gpu-fault-remediation/test/record-histories.ts`.
 * Runs each scenario for real against a fresh stack (dev server, PostgreSQL, lab)
 * and writes runbooks/gpu-fault-remediation/histories/<version>-<scenario>.json.
 * Re-record only when a workflow change is released on purpose; an unintended
 * change must fail replay instead.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { WorkflowHandle } from '@temporalio/client';
import { startStack } from '../../../scripts/stack';
import { findFreePort } from '../../../infra/free-port';
import { resolveTemporalCli } from '../../../infra/temporal-cli';
import { TEST_ENV_KEYS } from '../../../test/support/test-env';
import { connectStack, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { decide, startGpuFault } from './scenarios';

/** The released version being recorded: v1 before the fleet-hardening patch, v2 after it. */
const VERSION = 'v2';
const OUT = path.join(__dirname, '..', 'histories');

const scenarios: Record<string, (s: Stack, taskQueue: string) => Promise<WorkflowHandle>> = {
  'transient-reset': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-1', 3, 48);
    return startGpuFault(s, tq, { node_id: 'dev-gpu-1', xid: 48, gpu_index: 3 });
  },
  'persistent-rma-approved': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-2', 5, 48, true);
    const handle = await startGpuFault(s, tq, { node_id: 'dev-gpu-2' });
    await decide(handle, 'approve_rma', 'approve');
    return handle;
  },
  'xid79-reboot': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-3', 6, 79);
    return startGpuFault(s, tq, { node_id: 'dev-gpu-3' });
  },
  'no-fault': async (s, tq) => startGpuFault(s, tq, { node_id: 'dev-gpu-4' }),
  'reset-refused-reboot': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-1', 2, 48);
    await s.lab.holdGpu('dev-gpu-1', 2);
    return startGpuFault(s, tq, { node_id: 'dev-gpu-1' });
  },
};

async function main(): Promise<void> {
  const dir = path.resolve(__dirname, '../../../.data', `record-${process.pid}`);
  const stack = await startStack({
    dataDir: dir,
    log: (l) => process.stderr.write(`[record] ${l}\n`),
    temporalPort: await findFreePort(),
    temporalUiPort: await findFreePort(),
    databaseUrl: process.env.DATABASE_URL,
    lab: { extraGpuNodes: 3, drainDelayMs: 100, rebootDelayMs: 300, timeScale: 0.002 },
  });
  Object.assign(process.env, {
    [TEST_ENV_KEYS.temporalAddress]: stack.temporalAddress,
    [TEST_ENV_KEYS.databaseUrl]: stack.db.url,
    [TEST_ENV_KEYS.inventoryFile]: stack.lab!.inventoryPath,
    [TEST_ENV_KEYS.clientKeyFile]: stack.lab!.clientKeyPath,
    [TEST_ENV_KEYS.platformUrl]: stack.lab!.platformUrl,
    [TEST_ENV_KEYS.platformToken]: stack.lab!.platformToken,
  });
  const cli = await resolveTemporalCli();
  const s = await connectStack();
  const taskQueue = uniqueTaskQueue('record');
  const worker = await s.worker(taskQueue);
  try {
    await worker.runUntil(async () => {
      fs.mkdirSync(OUT, { recursive: true });
      for (const [name, drive] of Object.entries(scenarios)) {
        const handle = await drive(s, taskQueue);
        const report = await handle.result();
        const file = path.join(OUT, `${VERSION}-${name}.json`);
        // The CLI writes the same JSON as a Web UI export, which replay accepts as is.
        const json = execFileSync(cli.path, ['workflow', 'show', '--workflow-id', handle.workflowId, '--output', 'json', '--address', stack.temporalAddress]);
        fs.writeFileSync(file, json);
        process.stderr.write(`[record] ${name}: ${report.outcome} → ${path.relative(process.cwd(), file)}\n`);
      }
    });
  } finally {
    await s.close();
    await stack.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
