import type { WorkflowHandle } from '@temporalio/client';
import { expectedPath, type PlannedAction } from '../../../domain/plan';
import type { RunReport } from '../../../domain/runbook';
import { connectStack, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { testEnv } from '../../../test/support/test-env';
import type { GpuFaultRequest } from '../input';
import { clearHistory, decide, planGpuFault, startGpuFault, stepNames, waitForApproval } from './scenarios';

const NODE = 'dev-gpu-2';
/** What plan mode may run on a host: reads only. */
const READ_COMMANDS = /^(cat \/proc\/sys\/kernel\/random\/boot_id|nvidia-smi --query-gpu=|journalctl -k )/;
/** The lab's record of each platform mutation, by the request path that makes it. */
const PATH_KIND: [RegExp, string][] = [
  [/\/uncordon$/, 'uncordon'],
  [/\/cordon$/, 'cordon'],
  [/\/allocations\/evict$/, 'evict'],
  [/\/rma-tickets$/, 'rma_ticket'],
];
/** The lab's record of each host mutation, by the command that makes it. */
const ARGV_KIND: [RegExp, string][] = [
  [/^nvidia-smi -r /, 'reset_gpu'],
  [/^nvidia-smi -pm /, 'persistence_mode'],
  [/^systemctl reboot$/, 'reboot'],
];

let stack: Stack;
let taskQueue: string;
let stopWorker: () => Promise<void>;

beforeAll(async () => {
  stack = await connectStack();
  taskQueue = uniqueTaskQueue('gpu-fault-plan');
  const worker = await stack.worker(taskQueue);
  const running = worker.run();
  stopWorker = async () => {
    worker.shutdown();
    await running;
  };
});
afterAll(async () => {
  await stopWorker?.();
  await stack?.close();
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
});

const plan = async (req: Omit<GpuFaultRequest, 'run_mode'>): Promise<RunReport> => (await planGpuFault(stack, taskQueue, req)).result();

/** The kind of lab mutation each mutating action on the plan's expected path must produce, in order. */
function expectedMutations(actions: PlannedAction[]): { kind: string; what: string }[] {
  const out: { kind: string; what: string }[] = [];
  for (const a of expectedPath(actions)) {
    if (a.kind === 'http' && a.mutates) out.push({ kind: PATH_KIND.find(([re]) => re.test(a.path))![1], what: JSON.stringify(a.body) });
    if (a.kind === 'ssh' && a.mutates) out.push({ kind: ARGV_KIND.find(([re]) => re.test(a.argv.join(' ')))![1], what: a.argv.join(' ') });
  }
  return out;
}

async function platformCordon(reason: string): Promise<void> {
  const res = await fetch(`${testEnv('platformUrl')}/api/v1/nodes/${NODE}/cordon`, {
    method: 'POST',
    headers: { authorization: `Bearer ${testEnv('platformToken')}`, 'content-type': 'application/json', 'idempotency-key': `test-cordon-${Date.now()}` },
    body: JSON.stringify({ reason }),
  });
  expect(res.status).toBe(200);
}

test('a plan run reads, changes nothing, and the live run started from it does exactly what it showed', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  const planned = await plan({ node_id: NODE, xid: 48, gpu_index: 3 });

  expect(planned.outcome).toBe('planned');
  expect(planned.plan!.plan_hash).toMatch(/^[0-9a-f]{64}$/);
  expect(stepNames(planned).slice(-3)).toEqual(['check_remediation_history', 'read_disruption_scopes', 'record_plan']);
  const lines = planned.plan!.lines.join('\n');
  expect(lines).toContain(`lease_disruption_slots: lease ${NODE} from node/${NODE} (cap 1 of 1)`);
  expect(lines).toMatch(new RegExp(`cordon_node: POST /api/v1/nodes/${NODE}/cordon \\{"reason":"gpu-fault: Xid 48`));
  expect(lines).toMatch(/reset_gpu3: ssh dev-gpu-2 \(worker_compute\) nvidia-smi -r -i GPU-[0-9a-f-]+/);
  expect(lines).toMatch(/approve_force_drain: ask for approval/);
  // The records of the lab: no mutation of any kind, and only reads ran on the host.
  const afterPlan = await stack.lab.records(NODE);
  expect(afterPlan.mutations).toEqual([]);
  expect(afterPlan.commands.length).toBeGreaterThan(0);
  for (const c of afterPlan.commands) expect(c.command).toMatch(READ_COMMANDS);
  expect(afterPlan.processes.filter((p) => p.unit !== null)).toEqual([]);

  // The stored plan is what the live run compares with.
  const stored = await stack.pool.query(`SELECT plan, lines FROM runbook_plans WHERE plan_hash = $1`, [planned.plan!.plan_hash]);
  expect(stored.rows[0].lines).toEqual(planned.plan!.lines);

  const live: RunReport = await (await startGpuFault(stack, taskQueue, { node_id: NODE, xid: 48, gpu_index: 3, plan_hash: planned.plan!.plan_hash })).result();
  expect(live.outcome).toBe('returned_to_service');
  expect(live.plan?.plan_hash).toBe(planned.plan!.plan_hash);
  expect(stepNames(live)).toContain('compare_with_plan');

  // Action for action: every mutation the lab saw is the next one on the plan's expected path.
  const records = await stack.lab.records(NODE);
  const applied = records.mutations.filter((m) => m.applied);
  const expected = expectedMutations(stored.rows[0].plan.actions);
  expect(applied.map((m) => m.kind)).toEqual(expected.map((e) => e.kind));
  const hostJobs = records.processes.filter((p) => p.unit !== null && !p.command.startsWith('dcgmi')).map((p) => p.command);
  expect(hostJobs).toEqual(expected.filter((e) => !e.what.startsWith('{')).map((e) => e.what));
  const platformReasons = applied.filter((m) => m.detail?.['reason'] !== undefined).map((m) => JSON.stringify({ reason: m.detail!['reason'] }));
  expect(platformReasons).toEqual(expected.filter((e) => e.what.startsWith('{')).map((e) => e.what));
});

test('the world drifted between plan and live: the live run refuses with a diff and changes nothing', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  const planned = await plan({ node_id: NODE, xid: 48, gpu_index: 3 });
  expect(planned.outcome).toBe('planned');
  // Someone takes the node for maintenance in between: the run would no longer cordon it.
  await platformCordon('maintenance: PSU swap');

  const live: RunReport = await (await startGpuFault(stack, taskQueue, { node_id: NODE, xid: 48, gpu_index: 3, plan_hash: planned.plan!.plan_hash })).result();
  expect(live.outcome).toBe('plan_drifted');
  expect(live.summary).toContain(`the world changed since plan ${planned.plan!.plan_hash}`);
  expect(live.summary).toMatch(/\n-cordon_node: POST \/api\/v1\/nodes\/dev-gpu-2\/cordon/);
  expect(stepNames(live)).not.toContain('lease_disruption_slots');
  const applied = (await stack.lab.records(NODE)).mutations.filter((m) => m.applied);
  expect(applied).toEqual([expect.objectContaining({ kind: 'cordon', detail: { reason: 'maintenance: PSU swap' } })]);
  const evidence = await stack.pool.query(`SELECT data FROM evidence WHERE kind = 'plan' AND workflow_id = $1`, [live.workflow_id]);
  expect(evidence.rows[0].data).toMatchObject({ expected: planned.plan!.plan_hash, known: true });
});

test('a plan for a persistent fault shows the RMA branch; the live run asks for the RMA on that plan', async () => {
  await stack.lab.injectXid(NODE, 5, 48, true);
  const planned = await plan({ node_id: NODE, xid: 48, gpu_index: 5 });
  const lines = planned.plan!.lines.join('\n');
  expect(lines).toMatch(/run_gpu_diag: depends on the diag over all 8 GPUs/);
  expect(lines).toMatch(/approve_rma: ask for approval/);
  expect(lines).toContain('open_rma_ticket: POST /api/v1/rma-tickets');
  expect((await stack.lab.records(NODE)).mutations).toEqual([]);

  const report: RunReport = await (async () => {
    const handle: WorkflowHandle = await startGpuFault(stack, taskQueue, { node_id: NODE, xid: 48, gpu_index: 5, plan_hash: planned.plan!.plan_hash });
    const waiting = await waitForApproval(handle, 'approve_rma');
    expect(waiting.pending_approval!.plan_hash).toBe(planned.plan!.plan_hash);
    expect(waiting.plan?.lines).toEqual(planned.plan!.lines);
    await decide(handle, 'approve_rma', 'approve');
    return handle.result();
  })();
  expect(report.outcome).toBe('rma_opened');
  expect(report.approvals[0]).toMatchObject({ step: 'approve_rma', decision: 'approve', plan_hash: planned.plan!.plan_hash });
});
