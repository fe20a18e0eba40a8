/**
 * gpu-driver-upgrade on the lab's workers: a pinned driver installed with apt over
 * SSH, the reboot, nvidia-smi and dcgmi on the new driver; the rollback to the
 * previous pin when the diag fails or the install breaks; plan mode; and a fleet
 * roll whose maxUnavailable is the rack budget.
 */
import type { Worker } from '@temporalio/worker';
import type { FleetRunInput, FleetRunReport } from '../../../domain/fleet-run';
import type { RunReport } from '../../../domain/runbook';
import { connectStack, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { stepNames } from '../../gpu-fault-remediation/test/scenarios';
import { gpuDriverUpgradeWorkflowId, type GpuDriverUpgradeRequest } from '../input';

const NEW = { package: 'nvidia-driver-550-server=550.127.08-0ubuntu1', driver_version: '550.127.08' } as const;
const OLD = '550.90.07';
const FAST = { drain_timeout: '5s', approval_timeout: '30s', reboot_timeout: '20s', poll_interval: '100ms', diag_level: 1 } as const;

let stack: Stack;
let worker: Worker;
let running: Promise<void>;
const taskQueue = uniqueTaskQueue('driver-upgrade');

const driverOf = async (nodeId: string) => ((await stack.lab.hostState(nodeId)) as { driver: { loaded: string; installed: string } }).driver;
const kinds = async (nodeId: string) => (await stack.lab.records(nodeId)).mutations.filter((m) => m.applied).map((m) => m.kind);

async function upgrade(req: Partial<GpuDriverUpgradeRequest> & { node_id: string }, workflowId = gpuDriverUpgradeWorkflowId(req.node_id)): Promise<RunReport> {
  return (await stack.client.workflow.execute('gpuDriverUpgrade', {
    taskQueue,
    workflowId,
    args: [{ ...FAST, ...NEW, correlation_id: `test-${workflowId}-${Date.now()}`, ...req }],
  })) as RunReport;
}

beforeAll(async () => {
  stack = await connectStack();
  worker = await stack.worker(taskQueue);
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await stack?.close();
});

beforeEach(async () => {
  await stack.lab.reset();
  for (const n of ['dev-gpu-2', 'dev-gpu-3', 'dev-gpu-4']) await stack.freeNode(n);
});

it('moves a worker to the pinned driver behind cordon and drain, proves it with nvidia-smi and dcgmi diag, and returns it to service', async () => {
  const report = await upgrade({ node_id: 'dev-gpu-2' });

  expect(report.outcome).toBe('upgraded');
  expect(await driverOf('dev-gpu-2')).toEqual({ loaded: '550.127.08', installed: '550.127.08' });
  expect(await kinds('dev-gpu-2')).toEqual(['cordon', 'driver_install', 'reboot', 'uncordon']);
  expect(stepNames(report)).toEqual(
    expect.arrayContaining(['read_driver', 'cordon_node', 'wait_for_drain', 'install_driver', 'reboot_node', 'verify_driver', 'run_diag']),
  );
  expect(report.steps.find((s) => s.name === 'verify_driver')?.detail).toBe('loaded 550.127.08, package nvidia-driver-550-server=550.127.08-0ubuntu1');

  // The same request again: nothing to do, nothing touched.
  const again = await upgrade({ node_id: 'dev-gpu-2' }, `${gpuDriverUpgradeWorkflowId('dev-gpu-2')}/again`);
  expect(again.outcome).toBe('already_current');
  expect(await kinds('dev-gpu-2')).toEqual(['cordon', 'driver_install', 'reboot', 'uncordon']);
});

it('puts the previous pin back, reboots onto it and returns the node when the new driver fails the diag', async () => {
  await stack.lab.driverFailsDiag('dev-gpu-3', NEW.driver_version);
  const report = await upgrade({ node_id: 'dev-gpu-3' });

  expect(report.outcome).toBe('rolled_back');
  expect(report.summary).toMatch(/dcgmi diag -r 1 on 550\.127\.08: .*back on 550\.90\.07, diag -r 1 passed/);
  expect(await driverOf('dev-gpu-3')).toEqual({ loaded: OLD, installed: OLD });
  expect(await kinds('dev-gpu-3')).toEqual(['cordon', 'driver_install', 'reboot', 'driver_install', 'reboot', 'uncordon']);
  expect(stepNames(report)).toEqual(expect.arrayContaining(['install_previous_driver', 'reboot_after_rollback', 'verify_previous_driver', 'rollback_diag']));
});

it('after a failed install (dkms) reinstalls the previous pin without a reboot and returns the node on its old driver', async () => {
  await stack.lab.failDriverInstall('dev-gpu-2');
  const report = await upgrade({ node_id: 'dev-gpu-2' });

  expect(report.outcome).toBe('rolled_back');
  expect(report.summary).toMatch(
    /the install failed \(apt-get install nvidia-driver-550-server=550\.127\.08-0ubuntu1 failed \(exit 100\): .*Bad return status for module build/,
  );
  expect(await driverOf('dev-gpu-2')).toEqual({ loaded: OLD, installed: OLD });
  expect(await kinds('dev-gpu-2')).toEqual(['cordon', 'uncordon']);
  expect(stepNames(report)).not.toContain('reboot_node');
});

it('in plan mode shows the install, the reboot and the rollback pin, and changes nothing', async () => {
  const report = await upgrade({ node_id: 'dev-gpu-2', run_mode: 'plan' }, `${gpuDriverUpgradeWorkflowId('dev-gpu-2')}/plan/${Date.now()}`);

  expect(report.outcome).toBe('planned');
  expect(await kinds('dev-gpu-2')).toEqual([]);
  const { plan } = (await stack.pool.query('SELECT plan FROM runbook_plans WHERE workflow_id = $1', [report.workflow_id])).rows[0] as {
    plan: { actions: { step: string; argv?: string[]; cases?: { actions: { step: string; argv?: string[] }[] }[] }[] };
  };
  expect(plan.actions.find((a) => a.step === 'install_driver')?.argv).toEqual([
    'apt-get',
    'install',
    '-y',
    '--allow-downgrades',
    '--no-install-recommends',
    NEW.package,
  ]);
  const rollback = plan.actions.find((a) => a.step === 'verify')!.cases![1]!.actions[0]!;
  expect(rollback).toMatchObject({ step: 'install_previous_driver', argv: expect.arrayContaining([`nvidia-driver-550-server=${OLD}-0ubuntu1`]) });
});

it('rolls three workers of one rack as a fleet run, never more than the rack budget (1) out of service at once', async () => {
  const rackWorker = await stack.worker(uniqueTaskQueue('driver-fleet'), { budgets: { rack: { max: 1 } } });
  const nodes = ['dev-gpu-2', 'dev-gpu-3', 'dev-gpu-4'];
  const input: FleetRunInput = {
    runbook: 'gpu-driver-upgrade',
    child_workflow_type: 'gpuDriverUpgrade',
    targets: nodes.map((n) => ({ node_id: n, workflow_id: gpuDriverUpgradeWorkflowId(n), input: { ...FAST, ...NEW, node_id: n } })),
    max_concurrency: 3,
    max_errors: { count: 0 },
    correlation_id: `driver-fleet-${Date.now()}`,
  };
  const report = (await rackWorker.runUntil(
    stack.client.workflow.execute('fleetRun', { taskQueue: rackWorker.options.taskQueue, workflowId: `fleet/driver/${Date.now()}`, args: [input] }),
  )) as FleetRunReport;

  expect(report.targets.map((t) => t.outcome)).toEqual(['upgraded', 'upgraded', 'upgraded']);
  for (const n of nodes) expect((await driverOf(n)).loaded).toBe('550.127.08');
  // Out of service = between a node's cordon and its uncordon, from the lab's own records.
  const events = (await stack.lab.records()).mutations
    .filter((m) => m.applied && nodes.includes(m.node_id) && (m.kind === 'cordon' || m.kind === 'uncordon'))
    .sort((a, b) => a.seq - b.seq);
  let out = 0;
  let most = 0;
  for (const e of events) {
    out += e.kind === 'cordon' ? 1 : -1;
    most = Math.max(most, out);
  }
  expect(events).toHaveLength(6);
  expect(most).toBe(1);
});
