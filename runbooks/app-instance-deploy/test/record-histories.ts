/**
 * Records app-instance-deploy's histories for the replay tests:
 * `npx tsx runbooks/app-instance-deploy/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import type { Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { approvalSignal, statusQuery } from '../../../domain/messages';
import type { AppRuntimeFault } from '../../../lab/admin-client';
import { appInstanceDeployWorkflowId } from '../input';

/** The released version being recorded (v2: an instance the run created is verified, never already_running). */
const VERSION = 'v2';
const PROJECT = 'proj-lab';
const FAST = { converge_timeout: '20s', poll_interval: '100ms', approval_timeout: '2m' };

async function stuck(s: Stack, tq: string, faults: AppRuntimeFault[], extra: Record<string, unknown> = {}) {
  await s.lab.reset();
  const { instance } = await s.lab.createDeployingInstance({ projectId: PROJECT, controllerNodeId: 'dev-gpu-1', faults });
  return s.client.workflow.start('appInstanceDeploy', {
    taskQueue: tq,
    workflowId: appInstanceDeployWorkflowId(PROJECT, instance.id),
    args: [{ project_id: PROJECT, app_instance_id: instance.id, ...FAST, ...extra }],
  });
}

const scenarios: Record<string, Scenario> = {
  'chain-fixed': (s, tq) => stuck(s, tq, [{ fault: 'node_api_unreachable' }, { fault: 'agent_cert_expired' }, { fault: 'stale_enrollment_token' }]),
  'upgrade-rejected': async (s, tq) => {
    const handle = await stuck(s, tq, [{ fault: 'hostname_build' }]);
    for (;;) {
      const pending = (await handle.query(statusQuery)).pending_approval;
      if (pending) {
        await handle.signal(approvalSignal, { decision: 'reject', actor: 'sre-oncall', reason: 'not this week', approval_id: pending.id });
        return handle;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  },
  'plan-mode': (s, tq) => stuck(s, tq, [{ fault: 'node_api_unreachable' }], { run_mode: 'plan' }),
  'new-deploy': async (s, tq) => {
    await s.lab.reset();
    const id = `new-${Date.now().toString(36)}`;
    return s.client.workflow.start('appInstanceDeploy', {
      taskQueue: tq,
      workflowId: appInstanceDeployWorkflowId(PROJECT, id),
      args: [{ project_id: PROJECT, app_instance_id: id, create: { name: id, controller_node_id: 'dev-gpu-1' }, ...FAST }],
    });
  },
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios });
