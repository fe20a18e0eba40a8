import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { RunReport } from '../../../domain/runbook';
import { connectStack, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { clearHistory, decide, startGpuFault, stepNames, waitForApproval } from './scenarios';

const NODE = 'dev-gpu-1';
/** Reads only: nothing on the host or the platform changes before the fault check. */
const PRE_CHECKS = ['resolve_target', 'check_host_role', 'read_node_state', 'read_kernel_log_cursor', 'read_gpu_state', 'classify_findings'];
let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
});

async function run<T>(body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = uniqueTaskQueue('gpu-fault');
  const worker = await stack.worker(taskQueue);
  return worker.runUntil(body(taskQueue));
}

async function mutationKinds(nodeId = NODE): Promise<string[]> {
  const r = await stack.lab.records(nodeId);
  return r.mutations.filter((m) => m.applied).map((m) => m.kind);
}

test('transient Xid 48 → reset GPU → diag passes → returned to service', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE, xid: 48, gpu_index: 3 })).result());

  expect(report.outcome).toBe('returned_to_service');
  expect(stepNames(report)).toEqual([
    ...PRE_CHECKS,
    'check_remediation_history',
    'lease_disruption_slots',
    'cordon_node',
    'wait_for_drain',
    'disable_persistence_gpu3',
    'reset_gpu3',
    'restore_persistence_gpu3',
    'verify_gpus_after_reset',
    'run_gpu_diag',
    'reread_node_state',
    'uncordon_node',
    'release_disruption_slots',
    'record_kernel_log_cursor',
  ]);
  expect(await mutationKinds()).toEqual(['cordon', 'persistence_mode', 'reset_gpu', 'persistence_mode', 'uncordon']);
  // The reset ran once on the host, as a host job, addressed by UUID.
  const reset = (await stack.lab.records(NODE)).processes.filter((p) => p.command.startsWith('nvidia-smi -r'));
  expect(reset).toHaveLength(1);
  expect(reset[0]!.command).toMatch(/^nvidia-smi -r -i GPU-[0-9a-f-]+$/);
  expect(reset[0]!.unit).toMatch(/^gpuaas-reset_gpu3-[0-9a-f]{20}\.service$/);
});

test('persistent fault → diag fails → RMA approved → rma_opened, node stays cordoned', async () => {
  await stack.lab.injectXid(NODE, 5, 48, true);
  const report: RunReport = await run(async (tq) => {
    const handle = await startGpuFault(stack, tq, { node_id: NODE, xid: 48, gpu_index: 5 });
    const waiting = await waitForApproval(handle, 'approve_rma');
    expect(waiting.phase).toBe('escalate');
    expect(waiting.steps.find((s) => s.name === 'run_gpu_diag')?.detail).toMatch(/dcgmi diag -r 2: not a pass \(.*GPU 5 failed/);
    // A level 2 failure is confirmed at level 3 before anyone is asked about an RMA.
    expect(waiting.steps.find((s) => s.name === 'confirm_gpu_diag')?.detail).toMatch(/dcgmi diag -r 3: not a pass/);
    await decide(handle, 'approve_rma', 'approve');
    return handle.result();
  });
  expect(report.outcome).toBe('rma_opened');
  // An RMA takes two distinct approvers.
  expect(report.approvals).toEqual([
    expect.objectContaining({ step: 'approve_rma', kind: 'rma', min_approvals: 2, decision: 'approve', actor: 'sre-oncall, sre-second' }),
  ]);
  const kinds = await mutationKinds();
  expect(kinds.filter((k) => k === 'rma_ticket')).toHaveLength(1);
  expect(kinds).not.toContain('uncordon');
  const decision = await stack.pool.query(`SELECT data FROM evidence WHERE kind = 'decision' AND node_id = $1 ORDER BY id DESC LIMIT 1`, [NODE]);
  expect(decision.rows[0].data).toMatchObject({ decision: 'approve', actor: 'sre-oncall, sre-second', reason: 'test approve; test approve' });
});

test('RMA rejected → held_for_operator, no ticket, still cordoned', async () => {
  await stack.lab.injectXid(NODE, 2, 48, true);
  const report: RunReport = await run(async (tq) => {
    const handle = await startGpuFault(stack, tq, { node_id: NODE });
    await decide(handle, 'approve_rma', 'reject');
    return handle.result();
  });
  expect(report.outcome).toBe('held_for_operator');
  const kinds = await mutationKinds();
  expect(kinds).toContain('cordon');
  expect(kinds).not.toContain('rma_ticket');
  expect(kinds).not.toContain('uncordon');
});

test('application Xid 13 → no_action_required, node never drained', async () => {
  await stack.lab.injectXid(NODE, 1, 13);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE, xid: 13 })).result());
  expect(report.outcome).toBe('no_action_required');
  expect(report.summary).toMatch(/restart_app/);
  expect(await mutationKinds()).toEqual([]);
});

test('Xid 79 (fell off the bus) → drain, reboot, diag → returned to service', async () => {
  await stack.lab.injectXid(NODE, 6, 79);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE, xid: 79 })).result());
  expect(report.outcome).toBe('returned_to_service');
  expect(stepNames(report)).toEqual([
    ...PRE_CHECKS,
    'check_remediation_history',
    'lease_disruption_slots',
    'cordon_node',
    'wait_for_drain',
    'read_boot_id',
    'reboot_node',
    'verify_gpus_after_reboot',
    'run_gpu_diag',
    'reread_node_state',
    'uncordon_node',
    'release_disruption_slots',
    'record_kernel_log_cursor',
  ]);
  expect(await mutationKinds()).toEqual(['cordon', 'reboot', 'uncordon']);
});

test('no fault on the host → no_fault_found with zero mutations', async () => {
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE, xid: 48, gpu_index: 0 })).result());
  expect(report.outcome).toBe('no_fault_found');
  const records = await stack.lab.records(NODE);
  expect(records.mutations).toEqual([]);
  expect(records.commands.map((c) => c.command.split(' ')[0])).toEqual(['cat', 'nvidia-smi', 'journalctl']);
});

test('third fault in 7 days → operator approval after the fault check, before anything changes', async () => {
  // Two real remediations first, recorded by the engine itself.
  for (let i = 0; i < 2; i++) {
    await stack.lab.reset();
    await stack.lab.injectXid(NODE, 3, 48);
    const r: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
    expect(r.outcome).toBe('returned_to_service');
  }
  await stack.lab.reset();
  await stack.lab.injectXid(NODE, 3, 48);
  const report: RunReport = await run(async (tq) => {
    const handle = await startGpuFault(stack, tq, { node_id: NODE });
    const waiting = await waitForApproval(handle, 'approve_repeat_remediation');
    expect(waiting.pending_approval?.context).toMatchObject({ earlier_remediations: 2 });
    expect((await stack.lab.records(NODE)).mutations).toEqual([]);
    await decide(handle, 'approve_repeat_remediation', 'reject');
    return handle.result();
  });
  expect(report.outcome).toBe('held_for_operator');
  const records = await stack.lab.records(NODE);
  expect(records.mutations).toEqual([]);
  // Only the reads of the fault check ran on the host.
  expect(records.commands.map((c) => c.command.split(' ')[0])).toEqual(['cat', 'nvidia-smi', 'journalctl']);
});

test('drain that never finishes → force-evict approval → evicted and remediated', async () => {
  await stack.lab.injectXid(NODE, 4, 48);
  await stack.lab.stickDrain(NODE);
  const report: RunReport = await run(async (tq) => {
    const handle = await startGpuFault(stack, tq, { node_id: NODE, drain_timeout: '1s' });
    await decide(handle, 'approve_force_drain', 'approve');
    return handle.result();
  });
  expect(report.outcome).toBe('returned_to_service');
  expect(await mutationKinds()).toEqual(['cordon', 'evict', 'persistence_mode', 'reset_gpu', 'persistence_mode', 'uncordon']);
});

test('a changed host key fails the run with HostKeyMismatch and runs no command', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  const other = stack.inventory.hosts.find((h) => h.node_id !== NODE)!;
  const tampered = { hosts: stack.inventory.hosts.map((h) => (h.node_id === NODE ? { ...h, host_key: other.host_key } : h)) };
  const taskQueue = uniqueTaskQueue('hostkey');
  const worker = await stack.worker(taskQueue, { inventory: tampered });
  const err = await worker.runUntil(async () => {
    const handle = await startGpuFault(stack, taskQueue, { node_id: NODE });
    return handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('HostKeyMismatch');
  expect((await stack.lab.records(NODE)).commands).toEqual([]);
});

test('a non-worker host is refused with HostRoleViolation before any SSH', async () => {
  const err = await run(async (tq) =>
    (await startGpuFault(stack, tq, { node_id: 'dev-lab-1' })).result().then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('HostRoleViolation');
  expect((await stack.lab.records('dev-lab-1')).commands).toEqual([]);
});
