/**
 * Records pool-force-evict's histories for the replay tests, against the lab's
 * orchestrator: `npx tsx runbooks/pool-force-evict/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { eventually, type Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { decide } from '../../gpu-fault-remediation/test/scenarios';
import { poolEvictWorkflowId, type PoolEvictRequest } from '../input';

const VERSION = 'v1';
const FAST = { grace_period: '500ms', term_wait: '300ms', kill_wait: '2s', lease_wait: '10s', poll_interval: '50ms', approval_timeout: '30s' } as const;

/** A fresh orchestrator with a leader, the faults applied, then the run. */
async function evict(s: Stack, tq: string, req: PoolEvictRequest, faults: [string, object][] = []): Promise<WorkflowHandle> {
  await s.lab.reset();
  await eventually(async () => {
    const state = (await s.lab.orchestratorState()) as { replicas: { is_leader: boolean }[] };
    return state.replicas.some((r) => r.is_leader) ? true : undefined;
  }, 'a leader');
  for (const [name, body] of faults) await s.lab.orchestratorFault(name, body);
  const id = req.run_mode === 'plan' ? `${poolEvictWorkflowId(req)}/plan/${Date.now()}` : poolEvictWorkflowId(req);
  return s.client.workflow.start('poolForceEvict', { taskQueue: tq, workflowId: id, args: [{ ...FAST, ...req }] });
}

const runaway: [string, object] = ['runaway_pool', { pool_id: 'pool-llama-3-8b', growth_mib_per_s: 1, ignore_term: true }];

const scenarios: Record<string, Scenario> = {
  'evicted-graceful': (s, tq) => evict(s, tq, { pool_id: 'pool-mistral-7b' }),
  'sigkill-approved': async (s, tq) => {
    const run = await evict(s, tq, { pool_id: 'pool-llama-3-8b' }, [runaway]);
    await decide(run, 'approve_sigkill', 'approve');
    return run;
  },
  'oom-relieved': (s, tq) =>
    evict(s, tq, { emergency_oom: { threshold_pct: 30 } }, [['runaway_pool', { pool_id: 'pool-llama-3-8b', growth_mib_per_s: 256, ignore_term: true }]]),
  planned: (s, tq) => evict(s, tq, { pool_id: 'pool-llama-3-8b', run_mode: 'plan' }, [runaway]),
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios, orchestrator: true });
