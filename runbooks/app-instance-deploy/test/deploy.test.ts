/**
 * app-instance-deploy against the lab's platform-app runtime (real SSH, real HTTP,
 * the real dev server and PostgreSQL): each failure mode of seed 001 alone, the
 * 3 → 4 → 5 chain, the controller fixes behind approvals, plan mode, and the host-role
 * boundary of every mutation.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { approvalSignal, statusQuery } from '../../../domain/messages';
import type { RunReport } from '../../../domain/runbook';
import type { AppRuntimeFault } from '../../../lab/admin-client';
import { connectStack, eventually, type Stack } from '../../../test/support/harness';
import { appInstanceDeployWorkflowId, type AppInstanceDeployRequest } from '../input';

const CONTROL = 'dev-lab-1';
const WORKER = 'dev-gpu-1';
const PROJECT = 'proj-lab';
/** Scaled for the lab (timeScale 0.002): convergence takes well under a second there. */
const FAST = { converge_timeout: '20s', poll_interval: '100ms', approval_timeout: '2m' } as const;

let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());
beforeEach(async () => {
  await stack.lab.reset();
});

const withWorker = <T>(body: (taskQueue: string) => Promise<T>) => stack.withWorker('app-deploy', body);

/** A deploying instance with `faults`, and a run of the runbook taking it over. */
async function stuckInstance(faults: AppRuntimeFault[]): Promise<string> {
  const created = await stack.lab.createDeployingInstance({ projectId: PROJECT, controllerNodeId: WORKER, faults });
  return created.instance.id;
}

function start(taskQueue: string, appInstanceId: string, extra: Partial<AppInstanceDeployRequest> = {}): Promise<WorkflowHandle> {
  return stack.client.workflow.start('appInstanceDeploy', {
    taskQueue,
    workflowId: `${appInstanceDeployWorkflowId(PROJECT, appInstanceId)}/${Date.now()}`,
    args: [{ project_id: PROJECT, app_instance_id: appInstanceId, ...FAST, ...extra }],
  });
}

async function decide(handle: WorkflowHandle, step: string, decision: 'approve' | 'reject'): Promise<void> {
  const status = await eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.pending_approval?.step === step ? s : undefined;
  }, `approval ${step}`);
  await handle.signal(approvalSignal, { decision, actor: 'sre-oncall', reason: `test ${decision}`, approval_id: status.pending_approval!.id });
}

/** The mutations the lab saw, as `host:kind`, in order. */
async function mutations(): Promise<string[]> {
  const all = [...(await stack.lab.records(CONTROL)).mutations, ...(await stack.lab.records(WORKER)).mutations];
  return all
    .filter((m) => m.applied)
    .sort((a, b) => a.seq - b.seq)
    .map((m) => `${m.node_id}:${m.kind}`);
}

const steps = (r: RunReport) => r.steps.map((s) => s.name);

test.each([
  ['node_api_unreachable', [{ fault: 'node_api_unreachable' }], ['restore_node_api_mapping']],
  ['agent_cert_expired', [{ fault: 'agent_cert_expired' }], ['rotate_agent_certificate']],
  ['enrollment_token_stale', [{ fault: 'stale_enrollment_token' }], ['reenroll_node_agent']],
] as [string, AppRuntimeFault[], string[]][])('%s alone: fixed on the worker only, then running', async (mode, faults, fixSteps) => {
  const id = await stuckInstance(faults);
  const report: RunReport = await withWorker(async (tq) => (await start(tq, id)).result());
  expect(report.outcome).toBe('running');
  expect(report.summary).toContain(`found and fixed: ${mode}`);
  for (const s of fixSteps) expect(steps(report)).toContain(s);
  // Every change was on the worker; nothing touched the app_control host.
  const changed = await mutations();
  expect(changed.length).toBeGreaterThan(0);
  expect(changed.filter((m) => !m.startsWith(`${WORKER}:`))).toEqual([]);
});

test('the incident behind the page: unreachable name, then expired certificate, then stale token, fixed in that order', async () => {
  const id = await stuckInstance([{ fault: 'node_api_unreachable' }, { fault: 'agent_cert_expired' }, { fault: 'stale_enrollment_token' }]);
  const report: RunReport = await withWorker(async (tq) => (await start(tq, id)).result());
  expect(report.outcome).toBe('running');
  expect(report.summary).toContain('found and fixed: node_api_unreachable, agent_cert_expired, enrollment_token_stale');
  const fixes = steps(report).filter((s) => ['restore_node_api_mapping', 'rotate_agent_certificate', 'reenroll_node_agent'].includes(s));
  expect(fixes).toEqual(['restore_node_api_mapping', 'rotate_agent_certificate', 'reenroll_node_agent']);
  // The enrollment token never reached the evidence.
  const evidence = await stack.pool.query(`SELECT data::text AS data FROM evidence WHERE workflow_id LIKE $1`, [`app-instance-deploy/${PROJECT}/${id}/%`]);
  expect(evidence.rows.some((r) => /GPUAAS_ENROLLMENT_TOKEN=(?!\[redacted\])\S+/.test(r.data))).toBe(false);
});

test('no controller: brought up on app_control after an approval', async () => {
  const id = await stuckInstance([{ fault: 'no_controller' }]);
  const report: RunReport = await withWorker(async (tq) => {
    const handle = await start(tq, id);
    await decide(handle, 'approve_bring_up_controller', 'approve');
    return handle.result();
  });
  expect(report.outcome).toBe('running');
  expect(report.summary).toContain('found and fixed: no_controller');
  // The controller came up on app_control; the worker saw only the verifying bootstrap reconcile (an API call for its node).
  const changed = await mutations();
  expect(changed.filter((m) => m.startsWith(`${CONTROL}:`)).length).toBeGreaterThan(0);
  expect(changed.filter((m) => !m.startsWith(`${CONTROL}:`))).toEqual([`${WORKER}:bootstrap_ssh_reconcile`]);
});

test('a controller that dials the MAAS hostname: its upgrade rejected → escalated naming app_control, nothing changed', async () => {
  const id = await stuckInstance([{ fault: 'hostname_build' }]);
  const report: RunReport = await withWorker(async (tq) => {
    const handle = await start(tq, id);
    await decide(handle, 'approve_upgrade_controller', 'reject');
    return handle.result();
  });
  expect(report.outcome).toBe('escalated');
  expect(report.summary).toMatch(/first failing boundary: app_control .*connection\.hostname/);
  expect(report.summary).toContain('SSH target semantics');
  expect(await mutations()).toEqual([]);
});

test('plan mode lists the fixes of a chain and changes nothing', async () => {
  const id = await stuckInstance([{ fault: 'node_api_unreachable' }, { fault: 'agent_cert_expired' }]);
  const report: RunReport = await withWorker(async (tq) => (await start(tq, id, { run_mode: 'plan' })).result());
  expect(report.outcome).toBe('planned');
  expect(report.plan!.lines.join('\n')).toMatch(/restore_node_api_mapping[\s\S]*rotate_agent_certificate/);
  expect(await mutations()).toEqual([]);
});

test('an instance already running: nothing to do', async () => {
  const id = await stuckInstance([]);
  await withWorker(async (tq) => (await start(tq, id)).result());
  const again: RunReport = await withWorker(async (tq) => (await start(tq, id)).result());
  expect(again.outcome).toBe('already_running');
});

test('a new deploy: the instance is created with the id the run is named after, then brought to running', async () => {
  const id = `new-${Date.now().toString(36)}`;
  const report: RunReport = await withWorker(async (tq) => (await start(tq, id, { create: { name: id, controller_node_id: WORKER } })).result());
  expect(report.outcome).toBe('running');
  expect(steps(report).slice(0, 3)).toEqual(['read_app_instance', 'create_app_instance', 'read_app_instance']);
  expect((await stack.lab.records(WORKER)).mutations.filter((m) => m.applied && m.kind === 'app_instance_create')).toHaveLength(1);
});
