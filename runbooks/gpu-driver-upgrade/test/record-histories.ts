/**
 * Records gpu-driver-upgrade's histories for the replay tests:
 * `npx tsx runbooks/gpu-driver-upgrade/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import type { Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { gpuDriverUpgradeWorkflowId, type GpuDriverUpgradeRequest } from '../input';

const VERSION = 'v1';
const REQUEST = {
  package: 'nvidia-driver-550-server=550.127.08-0ubuntu1',
  driver_version: '550.127.08',
  drain_timeout: '5s',
  approval_timeout: '30s',
  reboot_timeout: '20s',
  poll_interval: '100ms',
  diag_level: 1,
} as const;

async function upgrade(s: Stack, tq: string, nodeId: string, extra: Partial<GpuDriverUpgradeRequest> = {}) {
  const id = extra.run_mode === 'plan' ? `${gpuDriverUpgradeWorkflowId(nodeId)}/plan/${Date.now()}` : gpuDriverUpgradeWorkflowId(nodeId);
  return s.client.workflow.start('gpuDriverUpgrade', { taskQueue: tq, workflowId: id, args: [{ ...REQUEST, node_id: nodeId, ...extra }] });
}

const scenarios: Record<string, Scenario> = {
  upgraded: async (s, tq) => {
    await s.lab.reset();
    return upgrade(s, tq, 'dev-gpu-2');
  },
  'rolled-back-diag': async (s, tq) => {
    await s.lab.reset();
    await s.lab.driverFailsDiag('dev-gpu-3', REQUEST.driver_version);
    return upgrade(s, tq, 'dev-gpu-3');
  },
  'rolled-back-install': async (s, tq) => {
    await s.lab.reset();
    await s.lab.failDriverInstall('dev-gpu-4');
    return upgrade(s, tq, 'dev-gpu-4');
  },
  planned: async (s, tq) => {
    await s.lab.reset();
    return upgrade(s, tq, 'dev-gpu-2', { run_mode: 'plan' });
  },
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios });
