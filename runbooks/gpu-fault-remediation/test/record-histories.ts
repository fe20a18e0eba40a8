/**
 * Records gpu-fault-remediation's histories for the replay tests:
 * `npx tsx runbooks/gpu-fault-remediation/test/record-histories.ts`.
 */
import path from 'node:path';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { approvalUpdate } from '../../../domain/messages';
import { decide, planGpuFault, startGpuFault, waitForApproval } from './scenarios';

/**
 * The released version being recorded: v1 before the fleet-hardening patch, v2 after it, v3 with the
 * disruption budget (plan mode came without a patch: its steps run only for plan runs and runs with a plan_hash),
 * v4 with the approval rules (minimum approvers, update and checked signals). Only the approval scenarios
 * were recorded at v4: the others take the same path as v3 until their first approval.
 */
const VERSION = 'v4';

const scenarios: Record<string, Scenario> = {
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
  'rma-approved-by-update': async (s, tq) => {
    await s.lab.reset(); // an RMA opened by an earlier scenario would hold this node without asking
    await s.lab.injectXid('dev-gpu-2', 4, 48, true);
    const handle = await startGpuFault(s, tq, { node_id: 'dev-gpu-2' });
    const pending = (await waitForApproval(handle, 'approve_rma')).pending_approval!;
    for (const actor of ['alice', 'bob'])
      await handle.executeUpdate(approvalUpdate, {
        args: [{ decision: 'approve', actor, reason: 'replace it', approval_id: pending.id, shown_hash: pending.shown_hash }],
      });
    return handle;
  },
  'xid79-reboot': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-3', 6, 79);
    return startGpuFault(s, tq, { node_id: 'dev-gpu-3' });
  },
  'no-fault': async (s, tq) => startGpuFault(s, tq, { node_id: 'dev-gpu-4' }),
  'plan-mode': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-2', 3, 48);
    return planGpuFault(s, tq, { node_id: 'dev-gpu-2' });
  },
  'live-from-plan': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-3', 3, 48);
    const planned = await (await planGpuFault(s, tq, { node_id: 'dev-gpu-3' })).result();
    return startGpuFault(s, tq, { node_id: 'dev-gpu-3', plan_hash: planned.plan!.plan_hash });
  },
  'reset-refused-reboot': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-1', 2, 48);
    await s.lab.holdGpu('dev-gpu-1', 2);
    return startGpuFault(s, tq, { node_id: 'dev-gpu-1' });
  },
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios });
