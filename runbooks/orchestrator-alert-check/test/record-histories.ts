/**
 * Records orchestrator-alert-check's histories for the replay tests, against the lab's
 * orchestrator with the Prometheus and Alertmanager the stack starts around it:
 * `npx tsx runbooks/orchestrator-alert-check/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { eventually, type Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { alertCheckWorkflowId, type AlertCheckRequest } from '../input';

const VERSION = 'v1';

/** A fresh orchestrator with a leader, the faults applied, then the run. */
async function check(
  s: Stack,
  tq: string,
  req: Omit<AlertCheckRequest, 'cluster'>,
  faults: [string, object][] = [],
  pagerDown = false,
): Promise<WorkflowHandle> {
  await s.lab.reset();
  await eventually(async () => {
    const state = (await s.lab.orchestratorState()) as { replicas: { is_leader: boolean }[] };
    return state.replicas.some((r) => r.is_leader) ? true : undefined;
  }, 'a leader');
  if (pagerDown) await s.lab.onCallOutage(true);
  for (const [name, body] of faults) await s.lab.orchestratorFault(name, body);
  const id = `${alertCheckWorkflowId('lab')}/${req.run_mode ?? 'live'}/${Date.now()}`;
  return s.client.workflow.start('orchestratorAlertCheck', { taskQueue: tq, workflowId: id, args: [{ cluster: 'lab', poll_interval: '100ms', ...req }] });
}

const scenarios: Record<string, Scenario> = {
  delivered: (s, tq) => check(s, tq, { timeout: '60s' }, [['job_backlog', { jobs: 150, hold_ms: 40 * 60_000 }]]),
  'not-firing': (s, tq) => check(s, tq, { timeout: '2s' }),
  planned: (s, tq) => check(s, tq, { run_mode: 'plan' }),
  // Last: Alertmanager goes on retrying after the pager comes back.
  'notification-failed': (s, tq) => check(s, tq, { timeout: '8s' }, [['job_backlog', { jobs: 150, hold_ms: 40 * 60_000 }]], true),
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios, orchestrator: true });
