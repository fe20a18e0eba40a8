import fs from 'node:fs';
import type { Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { BudgetConfig } from '../../domain/disruption';
import type { connectTemporal } from '../../runtime/bootstrap';
import type { Tracing } from '../../runtime/tracing';
import { composeActivities } from '../../workers/compose';
import { bundleWorkflows, createRunbookWorker } from '../../workers/worker';
import type { Stack } from '../stack';

/** A benchmark's worker: the real activities against the stack's lab, ledgers on its own task queue. */
export async function labWorker(
  stack: Stack,
  temporal: Awaited<ReturnType<typeof connectTemporal>>,
  opts: { taskQueue: string; tracing: Tracing; logger: Logger; budgets: BudgetConfig },
): Promise<Worker> {
  const lab = stack.lab!;
  return createRunbookWorker({
    connection: temporal.nativeConnection,
    namespace: 'default',
    taskQueue: opts.taskQueue,
    tracing: opts.tracing,
    shutdownGraceMs: 5_000,
    workflowBundle: await bundleWorkflows(),
    activities: composeActivities({
      inventory: lab.inventory,
      sshPrivateKey: fs.readFileSync(lab.clientKeyPath),
      ssh: { connectTimeoutMs: 10_000, commandTimeoutMs: 60_000, outputLimitBytes: 1024 * 1024 },
      platformUrl: lab.platformUrl,
      platformToken: lab.platformToken,
      temporal: temporal.client,
      budgets: opts.budgets,
      ledgerTaskQueue: opts.taskQueue,
      pool: stack.db.pool,
      logger: opts.logger,
    }),
  });
}
