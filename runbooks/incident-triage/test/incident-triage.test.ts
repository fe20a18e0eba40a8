/**
 * incident-triage end to end: the real workflow and activities against the lab's
 * Loki, Tempo and SSH. The cross-host chain is placed on platform_control with the
 * other roles as downstream impact; a runner left on the GPU worker is a boundary
 * finding; evidence that lost host_role is an observability gap; a GPU validation
 * failure offers gpu-health-check, started only on approval. Read only throughout:
 * the hosts see `ps` and nothing else.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { RunReport } from '../../../domain/runbook';
import { decide } from '../../gpu-fault-remediation/test/scenarios';
import { SIGNAL_APPROVERS } from '../../../test/support/principals';
import { connectStack, type Stack } from '../../../test/support/harness';
import { incidentTriageWorkflowId, type IncidentTriageRequest } from '../input';
import { gpuHealthCheckWorkflowId } from '../../gpu-health-check/input';

let stack: Stack;
beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());
beforeEach(async () => stack.lab.reset());

async function triage(req: IncidentTriageRequest, during?: (handle: WorkflowHandle) => Promise<void>): Promise<RunReport> {
  return stack.withWorker('incident-triage', async (taskQueue) => {
    const handle = await stack.client.workflow.start('incidentTriage', {
      taskQueue,
      workflowId: incidentTriageWorkflowId(req.correlation_id),
      args: [{ lookback: '1h', approval_timeout: '30s', ...req }],
    });
    await during?.(handle);
    return (await handle.result()) as RunReport;
  });
}

/** Every command the lab's hosts ran, and every change made to them. */
async function footprint() {
  const nodes = ['dev-control-1', 'dev-lab-1', 'dev-gpu-1'];
  const records = await Promise.all(nodes.map((n) => stack.lab.records(n)));
  return { commands: [...new Set(records.flatMap((r) => r.commands.map((c) => c.command)))], mutations: records.flatMap((r) => r.mutations) };
}

const stepNames = (r: RunReport) => r.steps.map((s) => `${s.name}:${s.status}`);

test('the cross-host chain: platform_control first, app_control and worker_compute downstream, every host within its role, nothing changed', async () => {
  const incident = await stack.lab.injectIncident({ scenario: 'chain-registry-controller-worker' });
  const report = await triage({ correlation_id: incident.correlation_id, trace_id: incident.trace_id });
  expect(report.outcome).toBe('boundary_identified');
  expect(report.summary).toMatch(/^first failing boundary platform_control \(registry or runner failure\)/);
  expect(report.summary).toContain('downstream: app_control');
  expect(report.summary).toContain('worker_compute');
  expect(stepNames(report)).toEqual(
    expect.arrayContaining([
      'query_correlated_logs:completed',
      'read_trace:completed',
      'query_uncorrelated_errors:completed',
      'decide_first_failing_boundary:completed',
      'validate_host_boundaries:completed',
      'report_evidence:completed',
      'approve_next_step:skipped',
    ]),
  );
  const fp = await footprint();
  expect(fp.mutations).toEqual([]);
  expect(fp.commands.length).toBeGreaterThan(0);
  expect(fp.commands.every((c) => c === "ps -eo 'pid=,user=,args='" || c === 'ps -eo pid=,user=,args=')).toBe(true);
});

test('a CI runner job left on the GPU worker is a boundary finding of its own, quoting the rule', async () => {
  const incident = await stack.lab.injectIncident({ scenario: 'platform-ci-image-drift' });
  expect(incident.started_process).toMatchObject({ node_id: 'dev-gpu-1' });
  const report = await triage({ correlation_id: incident.correlation_id, trace_id: incident.trace_id, node_id: 'dev-gpu-1' });
  expect(report.outcome).toBe('boundary_identified');
  expect(report.summary).toContain(`boundary findings: CI runner on dev-gpu-1`);
  const validation = report.steps.find((s) => s.name === 'validate_host_boundaries');
  expect(validation?.detail).toContain(`(pid ${incident.started_process!.pid}) breaks no-ci-on-gpu`);
});

test('a Slurm controller started on the GPU worker is a boundary finding, whatever the incident', async () => {
  const incident = await stack.lab.injectIncident({ scenario: 'app-control-component-unavailable' });
  expect(incident.started_process).toMatchObject({ node_id: 'dev-gpu-1' });
  const report = await triage({ correlation_id: incident.correlation_id, trace_id: incident.trace_id, node_id: 'dev-gpu-1' });
  expect(report.outcome).toBe('boundary_identified');
  expect(report.summary).toContain('boundary findings: Slurm controller (slurmctld) on dev-gpu-1');
  expect(report.steps.find((s) => s.name === 'validate_host_boundaries')?.detail).toContain(
    `(pid ${incident.started_process!.pid}) breaks no-control-daemons-on-gpu`,
  );
});

test('evidence that lost host_role on the failing role ends observability_gap with the follow-up to file; never a boundary guessed', async () => {
  const incident = await stack.lab.injectIncident({ scenario: 'app-control-component-unavailable', omit: ['host_role'] });
  const report = await triage({ correlation_id: incident.correlation_id, trace_id: incident.trace_id });
  expect(report.outcome).toBe('observability_gap');
  expect(report.summary).toContain('has no host_role in its evidence');
  expect(report.summary).toContain('follow-up: add host_role to the logs and spans of');
});

test('an unknown correlation_id is an observability gap, not "environment flaky"', async () => {
  const report = await triage({ correlation_id: `never-seen-${Date.now()}` });
  expect(report.outcome).toBe('observability_gap');
  expect(report.summary).toContain('no log line or span carries correlation_id');
});

test('a GPU validation failure offers gpu-health-check; it starts only once approved, as its own run, requested by its approver', async () => {
  const incident = await stack.lab.injectIncident({ scenario: 'worker-gpu-validation-failure' });
  const childId = gpuHealthCheckWorkflowId('dev-gpu-1');
  await stack.client.workflow
    .getHandle(childId)
    .terminate('test set-up')
    .catch(() => undefined);
  // The child runs on this test's worker: it must finish before the worker stops, or it would hold its id for later suites.
  const { report, child } = await stack.withWorker('incident-triage', async (taskQueue) => {
    const handle = await stack.client.workflow.start('incidentTriage', {
      taskQueue,
      workflowId: incidentTriageWorkflowId(incident.correlation_id),
      args: [{ correlation_id: incident.correlation_id, trace_id: incident.trace_id, node_id: 'dev-gpu-1', lookback: '1h', approval_timeout: '30s' }],
    });
    await decide(handle, 'approve_next_step', 'approve');
    const report = (await handle.result()) as RunReport;
    const child = (await stack.client.workflow.getHandle(childId).result()) as RunReport;
    return { report, child };
  });
  expect(report.outcome).toBe('boundary_identified');
  expect(report.summary).toContain('GPU runtime validation failure');
  expect(report.summary).toContain(`next step started: ${childId} (started)`);
  expect(child.outcome).toBe('healthy');
  const described = await stack.client.workflow.getHandle(childId).describe();
  expect(described.memo?.requested_by).toBe(SIGNAL_APPROVERS[0]);
});
