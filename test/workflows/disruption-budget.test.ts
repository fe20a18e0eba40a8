/**
 * The fleet-wide disruption budget with real runs: real ledgers on the dev
 * server, gpu-fault-remediation runs on real workers, the lab over SSH and
 * HTTP, and the API's view of it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Worker } from '@temporalio/worker';
import { ledgerWorkflowId, type LedgerState, type SlotRequest } from '../../domain/disruption';
import { ledgerStateQuery, slotRequestSignal } from '../../domain/disruption-messages';
import { statusQuery } from '../../domain/messages';
import type { RunReport, RunStatus } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { startLab, type RunningLab } from '../../lab';
import { LabAdmin } from '../../lab/admin-client';
import { clearHistory, decide, startGpuFault, waitForApproval } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { startApi, type RunningApi } from '../e2e/api-harness';
import { connectStack, eventually, LEDGER_TASK_QUEUE, uniqueTaskQueue, type Stack } from '../support/harness';

let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

/** Ends every ledger, so each test starts with an empty budget. */
async function resetLedgers(): Promise<void> {
  for await (const wf of stack.client.workflow.list({ query: `WorkflowType = 'disruptionLedger' AND ExecutionStatus = 'Running'` })) {
    await stack.client.workflow.getHandle(wf.workflowId).terminate('test clean-up');
  }
}

const ledger = (scope: string): Promise<LedgerState> => stack.client.workflow.getHandle(ledgerWorkflowId(scope)).query(ledgerStateQuery);

/** The most nodes of `nodes` ever out of service (cordoned) at once, from the lab's records of cordons and uncordons. */
async function maxConcurrentlyCordoned(lab: LabAdmin, nodes: string[]): Promise<number> {
  const events = (await lab.records()).mutations
    .filter((m) => m.applied && nodes.includes(m.node_id) && (m.kind === 'cordon' || m.kind === 'uncordon'))
    .sort((a, b) => a.seq - b.seq);
  let out = 0;
  let max = 0;
  for (const e of events) {
    out += e.kind === 'cordon' ? 1 : -1;
    max = Math.max(max, out);
  }
  return max;
}

describe('one node per rack', () => {
  let worker: Worker;
  let running: Promise<void>;
  let api: RunningApi;
  let taskQueue: string;

  beforeAll(async () => {
    taskQueue = uniqueTaskQueue('budget');
    worker = await stack.worker(taskQueue, { budgets: { rack: { max: 1 } } });
    running = worker.run();
    api = await startApi(stack, taskQueue);
  });
  afterAll(async () => {
    await api?.close();
    worker?.shutdown();
    await running;
  });
  beforeEach(async () => {
    await stack.lab.reset();
    await resetLedgers();
    for (const node of ['dev-gpu-2', 'dev-gpu-3']) await clearHistory(stack, node);
  });

  test('a run waiting for an RMA approval holds its slot; the next waits, blocked and untouched, until a person releases the RMA node', async () => {
    await stack.lab.injectXid('dev-gpu-2', 5, 48, true);
    const first = await startGpuFault(stack, taskQueue, { node_id: 'dev-gpu-2' });
    await waitForApproval(first, 'approve_rma');

    await stack.lab.injectXid('dev-gpu-3', 3, 48);
    const second = await startGpuFault(stack, taskQueue, { node_id: 'dev-gpu-3' });
    const blocked: RunStatus = await eventually(async () => {
      const s = await second.query(statusQuery);
      return s.blocked_on?.scope === 'rack/rack-1' ? s : undefined;
    }, 'the second run blocked on rack-1');
    expect(blocked.blocked_on).toMatchObject({ scope: 'rack/rack-1', cap: 1, holders: ['gpu-fault/dev-gpu-2'] });
    expect(blocked.current_step).toBe('lease_disruption_slots');
    // "What is stuck, and on whom": one visibility query.
    await eventually(async () => {
      for await (const wf of stack.client.workflow.list({ query: `BlockedOnBudget = true AND ExecutionStatus = 'Running'` })) {
        if (wf.workflowId === 'gpu-fault/dev-gpu-3') return true;
      }
      return undefined;
    }, 'BlockedOnBudget in visibility');
    const budgets = await api.call('GET', '/api/v1/budgets');
    expect(budgets.status).toBe(200);
    const rack = budgets.body.scopes.find((s: { scope: string }) => s.scope === 'rack/rack-1');
    expect(rack).toMatchObject({
      cap: 1,
      tripped: true,
      holders: [{ holder: 'gpu-fault/dev-gpu-2', node_id: 'dev-gpu-2' }],
      waiters: [{ holder: 'gpu-fault/dev-gpu-3', node_id: 'dev-gpu-3' }],
    });
    expect(await stack.lab.applied('dev-gpu-3', 'cordon')).toBe(0);

    // The RMA node stays out of service, and keeps counting, after its run ends.
    await decide(first, 'approve_rma', 'approve');
    expect(((await first.result()) as RunReport).outcome).toBe('rma_opened');
    expect((await second.query(statusQuery)).blocked_on?.scope).toBe('rack/rack-1');
    expect((await ledger('rack/rack-1')).holders.map((h) => h.node_id)).toEqual(['dev-gpu-2']);

    const bad = await api.call('POST', '/api/v1/budgets/release', { scope: 'rack/rack-1', node_id: 'dev-gpu-3', reason: 'wrong node' });
    expect({ status: bad.status, code: bad.body.error.code }).toEqual({ status: 409, code: 'not_held' });
    const releasedAt = Date.now();
    const released = await api.call('POST', '/api/v1/budgets/release', {
      scope: 'rack/rack-1',
      node_id: 'dev-gpu-2',
      reason: 'GPU 5 swapped by the DC team',
    });
    expect(released.status).toBe(202);
    expect(released.body).toEqual({ scope: 'rack/rack-1', node_id: 'dev-gpu-2', released_from: 'gpu-fault/dev-gpu-2' });

    const report = (await second.result()) as RunReport;
    expect(report.outcome).toBe('returned_to_service');
    expect(report.steps.map((s) => s.name)).toContain('release_disruption_slots');
    expect((await second.describe()).typedSearchAttributes.get(SA.BlockedOnBudget)).toBe(false);
    // The second node went out of service only once a person had released the first's slot.
    const cordons = (await stack.lab.records('dev-gpu-3')).mutations.filter((m) => m.kind === 'cordon' && m.applied);
    expect(cordons).toHaveLength(1);
    expect(Date.parse(cordons[0]!.at)).toBeGreaterThanOrEqual(releasedAt);
    expect((await ledger('rack/rack-1')).holders).toEqual([]);
  });

  test('a node lease: another holder of a held node waits for it; once the run is gone its slot is freed, not lost', async () => {
    await stack.lab.injectXid('dev-gpu-2', 5, 48, true);
    const run = await startGpuFault(stack, taskQueue, { node_id: 'dev-gpu-2' });
    await waitForApproval(run, 'approve_rma');
    const other: SlotRequest = {
      holder: 'rolling-upgrade/probe',
      node_id: 'dev-gpu-2',
      runbook: 'rolling-upgrade',
      requested_at: new Date().toISOString(),
      cap: 1,
      size: 1,
      unavailable_elsewhere: [],
    };
    await stack.client.workflow.signalWithStart('disruptionLedger', {
      taskQueue: LEDGER_TASK_QUEUE,
      workflowId: ledgerWorkflowId('node/dev-gpu-2'),
      args: [{ scope: 'node/dev-gpu-2', size: 1, cap: 1 }],
      signal: slotRequestSignal,
      signalArgs: [other],
    });
    const waiting = await eventually(async () => {
      const s = await ledger('node/dev-gpu-2');
      return s.waiters.length === 1 ? s : undefined;
    }, 'the second holder waiting');
    expect(waiting.holders.map((h) => h.holder)).toEqual(['gpu-fault/dev-gpu-2']);
    expect(waiting.waiters.map((w) => w.holder)).toEqual(['rolling-upgrade/probe']);

    await decide(run, 'approve_rma', 'reject');
    expect(((await run.result()) as RunReport).outcome).toBe('held_for_operator');
    expect((await ledger('node/dev-gpu-2')).holders.map((h) => h.holder)).toEqual(['gpu-fault/dev-gpu-2']);
    expect((await api.call('POST', '/api/v1/budgets/release', { scope: 'node/dev-gpu-2', node_id: 'dev-gpu-2', reason: 'node inspected' })).status).toBe(202);
    // Granted to the probe, which is no workflow: the ledger finds it gone and frees the slot.
    const after = await eventually(async () => {
      const s = await ledger('node/dev-gpu-2');
      return s.holders.length === 0 && s.waiters.length === 0 ? s : undefined;
    }, 'the slot freed');
    expect(after.cap).toBe(1);
  });
});

describe('50 concurrent faults in one rack of a lab of its own', () => {
  const NODES = 50;
  const CAP = 3;
  let lab: RunningLab;
  let dir: string;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-budget-'));
    lab = await startLab({ dataDir: dir, extraGpuNodes: NODES - 1, drainDelayMs: 50, timeScale: 0.001 });
    await resetLedgers();
  }, 120_000);
  afterAll(async () => {
    await lab?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test(`the rack never has more than ${CAP} nodes out of service; every run completes`, async () => {
    // One rack for all: relabel this lab's GPU nodes.
    const inventory = { hosts: lab.inventory.hosts.map((h) => (h.role === 'worker_compute' ? { ...h, labels: { rack: 'big' } } : h)) };
    const nodes = inventory.hosts.filter((h) => h.role === 'worker_compute').map((h) => h.node_id);
    const admin = new LabAdmin(lab.platformUrl, lab.platformToken);
    for (const node of nodes) {
      // Same node ids as the shared lab: forget their earlier runs (the repeat gate counts them).
      await clearHistory(stack, node);
      await admin.injectXid(node, 1, 48);
    }
    const taskQueue = uniqueTaskQueue('budget-50');
    const worker = await stack.worker(taskQueue, {
      budgets: { rack: { max: CAP } },
      inventory,
      fleet: { inventory, platformUrl: lab.platformUrl, platformToken: lab.platformToken, sshPrivateKey: fs.readFileSync(lab.clientKeyPath) },
    });
    const { reports, rack } = await worker.runUntil(async () => {
      const handles = await Promise.all(nodes.map((node) => startGpuFault(stack, taskQueue, { node_id: node })));
      const reports = await Promise.all(handles.map((h) => h.result() as Promise<RunReport>));
      return { reports, rack: await ledger('rack/big') };
    });
    expect(reports.map((r) => r.outcome)).toEqual(nodes.map(() => 'returned_to_service'));
    const max = await maxConcurrentlyCordoned(admin, nodes);
    expect(max).toBeLessThanOrEqual(CAP);
    // The budget is used, not just obeyed: runs overlapped up to it.
    expect(max).toBeGreaterThan(1);
    expect(rack).toMatchObject({ size: NODES, cap: CAP, holders: [], waiters: [] });
  }, 300_000);
});
