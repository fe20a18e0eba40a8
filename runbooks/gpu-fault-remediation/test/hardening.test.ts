/**
 * gpu-fault-remediation against a lab that is no kinder than a real host:
 * commands that take time and outlive their SSH channel, refusals, dropped
 * connections, long kernel logs, nodes held by someone else, cancels.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { statusQuery, cancelRequestSignal } from '../../../domain/messages';
import { gpuAlertSignal } from '../input';
import type { RunReport } from '../../../domain/runbook';
import { connectStack, eventually, uniqueTaskQueue, type Stack, type WorkerOverrides } from '../../../test/support/harness';
import { testEnv } from '../../../test/support/test-env';
import { clearHistory, decide, startGpuFault, stepNames, waitForApproval } from './scenarios';

const NODE = 'dev-gpu-2';
let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
});

async function run<T>(body: (taskQueue: string) => Promise<T>, overrides: WorkerOverrides = {}): Promise<T> {
  const taskQueue = uniqueTaskQueue('hardening');
  const worker = await stack.worker(taskQueue, overrides);
  return worker.runUntil(body(taskQueue));
}

/** The lab admin API, called as a test would call it over HTTP. */
async function lab(path: string, body: unknown = {}): Promise<void> {
  const res = await fetch(`${testEnv('platformUrl')}/lab/v1${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${testEnv('platformToken')}` },
    body: JSON.stringify(body),
  });
  expect(res.status).toBeLessThan(300);
}

/** The platform API, called as another operator would. */
async function platform(path: string, body: unknown): Promise<Response> {
  return fetch(`${testEnv('platformUrl')}/api/v1${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${testEnv('platformToken')}`,
      'content-type': 'application/json',
      'idempotency-key': `test-${path}-${Date.now()}-${Math.random()}`,
    },
    body: JSON.stringify(body),
  });
}

async function applied(kind: string): Promise<number> {
  return stack.lab.applied(NODE, kind);
}

async function programRuns(prefix: string): Promise<number> {
  const records = (await stack.lab.records(NODE)) as unknown as { processes: { command: string }[] };
  return records.processes.filter((p) => p.command.startsWith(prefix)).length;
}

test('a level 3 diag that runs longer than the SSH command timeout passes: it runs as a host job', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  // The lab's r3 takes 900 s × LAB_TIME_SCALE (≈1.8 s); one SSH command may take 0.5 s.
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE, diag_level: 3 })).result(), {
    ssh: { commandTimeoutMs: 500 },
  });
  expect(report.outcome).toBe('returned_to_service');
  expect(report.steps.find((s) => s.name === 'run_gpu_diag')?.detail).toMatch(/^dcgmi diag -r 3: pass/);
  expect(await programRuns('dcgmi diag')).toBe(1);
  const commands = (await stack.lab.records(NODE)).commands.map((c) => c.command);
  expect(commands.filter((c) => c.startsWith('systemd-run') && c.includes('dcgmi diag -r 3'))).toHaveLength(1);
});

test('the record of a reset is lost with the connection → the retry reattaches; the reset ran once', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  // The reset runs, then the connection that reads its output drops.
  await lab(`/hosts/${NODE}/faults/drop-connection`, { command_prefix: 'cat /var/tmp/gpuaas-reset_gpu3', count: 1 });
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(report.outcome).toBe('returned_to_service');
  expect(await programRuns('nvidia-smi -r')).toBe(1);
  expect(await applied('reset_gpu')).toBe(1);
});

test('a reset refused because a process holds the GPU → rollback, reboot, diag → returned to service', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  await lab(`/hosts/${NODE}/faults/gpu-process`, { gpu_index: 3 });
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(report.outcome).toBe('returned_to_service');
  const reset = report.steps.find((s) => s.name === 'reset_gpu3');
  expect(reset?.error?.type).toBe('ResetRefused');
  expect(report.steps.find((s) => s.name === 'disable_persistence_gpu3')?.status).toBe('compensated');
  expect(await applied('reset_gpu')).toBe(0);
  expect(await applied('reboot')).toBe(1);
  expect(await applied('uncordon')).toBe(1);
});

test('a diag that leaves a GPU out is not a pass, even with exit 0', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  await lab(`/hosts/${NODE}/faults/diag-omit-gpu`, { gpu_index: 6 });
  const report: RunReport = await run(async (tq) => {
    const handle = await startGpuFault(stack, tq, { node_id: NODE });
    await decide(handle, 'approve_rma', 'reject');
    return handle.result();
  });
  expect(report.outcome).toBe('held_for_operator');
  expect(report.steps.find((s) => s.name === 'run_gpu_diag')?.detail).toMatch(/not a pass.*6/);
  expect(await applied('uncordon')).toBe(0);
});

test('cancel during the reset → persistence restored by compensation, run row cancelled', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  const err = await run(async (tq) => {
    // A slow poll keeps the reset step open long enough to cancel inside it.
    const handle = await startGpuFault(stack, tq, { node_id: NODE, poll_interval: '2s' });
    await eventually(async () => ((await handle.query(statusQuery)).current_step === 'reset_gpu3' ? true : undefined), 'the reset step', 60_000);
    await handle.signal(cancelRequestSignal, { actor: 'alice', reason: 'wrong node' });
    await handle.cancel();
    return handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
  });
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const row = await stack.pool.query(`SELECT status, outcome, report FROM runbook_runs WHERE node_id = $1`, [NODE]);
  expect(row.rows).toHaveLength(1);
  expect(row.rows[0]).toMatchObject({ status: 'cancelled', outcome: 'cancelled' });
  // This run's steps (the workflow id is reused by every test on this node).
  const steps = await stack.pool.query(
    `SELECT s.name, s.status FROM runbook_steps s JOIN runbook_runs r USING (workflow_id, run_id) WHERE r.node_id = $1 ORDER BY s.seq`,
    [NODE],
  );
  expect(steps.rows.find((s) => s.name === 'disable_persistence_gpu3')?.status).toBe('compensated');
  // Persistence mode is back on for GPU 3, as it was before the run.
  const state = (await stack.lab.hostState(NODE)) as { gpus: { index: number; persistence_mode: boolean }[] };
  expect(state.gpus.find((g) => g.index === 3)?.persistence_mode).toBe(true);
  expect(await applied('reboot')).toBe(0);
});

test('alerts arriving while the run is cancelled never fail it: it ends cancelled with the alerts recorded', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  await stack.lab.stickDrain(NODE);
  const err = await run(async (tq) => {
    const handle = await startGpuFault(stack, tq, { node_id: NODE, drain_timeout: '1m' });
    await eventually(async () => ((await handle.query(statusQuery)).current_step === 'wait_for_drain' ? true : undefined), 'the drain wait');
    const alert = (i: number) =>
      handle.signal(gpuAlertSignal, { xid: 48, gpu_index: i % 8, source: 'storm', correlation_id: `storm-${i}`, received_at: new Date().toISOString() });
    await Promise.all([...Array(20).keys()].map(alert));
    await handle.cancel();
    await Promise.all([...Array(20).keys()].map((i) => alert(20 + i).catch(() => undefined)));
    return handle.result().then(
      () => undefined,
      (e: unknown) => e,
    );
  });
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  const row = await stack.pool.query(`SELECT status FROM runbook_runs WHERE node_id = $1`, [NODE]);
  expect(row.rows[0].status).toBe('cancelled');
  const alerts = await stack.pool.query(`SELECT count(*)::int AS n FROM evidence WHERE kind = 'alert' AND workflow_id = $1`, [`gpu-fault/${NODE}`]);
  expect(alerts.rows[0].n).toBeGreaterThanOrEqual(20);
});

test('an Xid at the end of a 5 MB kernel log is found', async () => {
  await lab(`/hosts/${NODE}/kernel-noise`, { bytes: 5 * 1024 * 1024 });
  await stack.lab.injectXid(NODE, 2, 48);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(report.outcome).toBe('returned_to_service');
  expect(stepNames(report)).toContain('reset_gpu2');
});

test('an Xid followed by megabytes of noise is found too, and handled Xids do not trigger the next run', async () => {
  await stack.lab.injectXid(NODE, 2, 48);
  await lab(`/hosts/${NODE}/kernel-noise`, { bytes: 3 * 1024 * 1024 });
  const first: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(first.outcome).toBe('returned_to_service');
  // Same boot, same old Xid line in the log: nothing new to handle.
  const second: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(second.outcome).toBe('no_fault_found');
  expect(await applied('reset_gpu')).toBe(1);
});

test('Xid 154 decides: the driver asks for a node reboot, so the node reboots rather than resetting the GPU', async () => {
  await lab(`/hosts/${NODE}/faults/xid`, { gpu_index: 1, xid: 48, recovery_action: 'node_reboot' });
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(report.outcome).toBe('returned_to_service');
  expect(await applied('reboot')).toBe(1);
  expect(await applied('reset_gpu')).toBe(0);
});

test('a node cordoned by someone else before the run stays cordoned after it', async () => {
  expect((await platform(`/nodes/${NODE}/cordon`, { reason: 'maintenance: PSU swap' })).status).toBe(200);
  await stack.lab.injectXid(NODE, 3, 48);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(report.outcome).toBe('remediated_left_cordoned');
  expect(report.steps.find((s) => s.name === 'cordon_node')?.status).toBe('skipped');
  expect(await applied('uncordon')).toBe(0);
  const state = (await stack.lab.hostState(NODE)) as { platform: { node: { schedulable: boolean; cordon_reason: string } } };
  expect(state.platform.node).toMatchObject({ schedulable: false, cordon_reason: 'maintenance: PSU swap' });
});

test('a node with an open RMA ticket never returns to service through this runbook', async () => {
  const ticket = await platform('/rma-tickets', { node_id: NODE, summary: 'GPU 5 replacement pending', evidence: {} });
  expect(ticket.status).toBe(201);
  await stack.lab.injectXid(NODE, 3, 48);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(report.outcome).toBe('remediated_left_cordoned');
  expect(report.summary).toMatch(/RMA ticket RMA-\d+ is open/);
  expect(await applied('uncordon')).toBe(0);
  expect(await applied('cordon')).toBe(1);
});

test('a node that never comes back from its reboot → held for an operator: reboot timed out, no diag, still cordoned', async () => {
  // Xid 79: the GPU fell off the bus, so only a reboot helps; this host hangs in POST.
  await stack.lab.injectXid(NODE, 2, 79);
  await stack.lab.hangNextBoot(NODE);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE, reboot_timeout: '3s' })).result());
  expect(report.outcome).toBe('held_for_operator');
  expect(report.summary).toMatch(/^reboot failed: .*did not come back within 3000 ms; node stays cordoned$/);
  expect(report.steps.find((s) => s.name === 'reboot_node')?.error?.type).toBe('RebootTimeout');
  expect(stepNames(report)).not.toContain('run_gpu_diag');
  expect(await applied('reboot')).toBe(1);
  expect(await applied('uncordon')).toBe(0);
  const state = (await stack.lab.hostState(NODE)) as { ssh: { rebooting: boolean }; platform: { node: { schedulable: boolean } } };
  expect(state.ssh.rebooting).toBe(true);
  expect(state.platform.node.schedulable).toBe(false);
});

test('a diag that cannot run (nv-hostengine down) → held for an operator: no RMA question, still cordoned', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  await stack.lab.stopHostEngine(NODE);
  const report: RunReport = await run(async (tq) => (await startGpuFault(stack, tq, { node_id: NODE })).result());
  expect(report.outcome).toBe('held_for_operator');
  expect(report.summary).toMatch(/dcgmi diag could not run on .*; node stays cordoned for a person/);
  const diag = report.steps.find((s) => s.name === 'run_gpu_diag');
  expect(diag?.error?.type).toBe('DiagUnavailable');
  expect(diag?.error?.message).toMatch(
    /^dcgmi diag could not run \(exit 250\): dcgmi exited 250 \(no connection to nv-hostengine\): Error: unable to establish a connection/,
  );
  expect(report.approvals).toEqual([]);
  expect(await applied('reset_gpu')).toBe(1);
  expect(await applied('uncordon')).toBe(0);
  expect(await applied('rma_ticket')).toBe(0);
});

test('with no workflow cache every task and query replays from history: the RMA path, queried throughout, stays deterministic', async () => {
  await stack.lab.injectXid(NODE, 5, 48, true);
  const report: RunReport = await run(
    async (tq) => {
      const handle = await startGpuFault(stack, tq, { node_id: NODE });
      // Status queries while the run moves: each one replays the whole history so far.
      const seen = new Set<string>();
      await eventually(async () => {
        const s = await handle.query(statusQuery);
        if (s.current_step) seen.add(s.current_step);
        return s.pending_approval?.step === 'approve_rma' ? s : undefined;
      }, 'the RMA approval');
      expect(seen.size).toBeGreaterThan(1);
      await decide(handle, 'approve_rma', 'reject');
      return handle.result();
    },
    { maxCachedWorkflows: 0 },
  );
  expect(report.outcome).toBe('held_for_operator');
  expect(stepNames(report)).toContain('lease_disruption_slots');
});

test('with no workflow cache, a cancel while the RMA approval waits replays cleanly and ends cancelled, its slots given back', async () => {
  await stack.lab.injectXid(NODE, 5, 48, true);
  const err = await run(
    async (tq) => {
      const handle = await startGpuFault(stack, tq, { node_id: NODE });
      await waitForApproval(handle, 'approve_rma');
      await handle.signal(cancelRequestSignal, { actor: 'alice', reason: 'test' });
      await handle.cancel();
      return handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
    },
    { maxCachedWorkflows: 0 },
  );
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
});
