import { proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AppPlatformActivities } from '../../capabilities/app-runtime/app-platform-activities';
import type { NodeAgentActivities } from '../../capabilities/app-runtime/node-agent-activities';
import { appRuntimeRequests } from '../../capabilities/app-runtime/requests';
import { FAILURE_MODE_FACTS, type FailureFinding } from '../../domain/app-runtime-failures';
import type { RunReport } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { ActivityOptionSets } from '../../engine/activity-options';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput, resolveTarget } from '../../engine/target';
import { NodeAgentRepair } from '../node-agent-repair';
import {
  BootstrapSshReconcileInputSchema,
  reconcileRequestSignal,
  RUNBOOK_BOOTSTRAP_SSH_RECONCILE,
  type BootstrapSshReconcileInput,
  type BootstrapSshReconcileRequest,
} from './input';
import { checkManagedKey } from './policies/managed-key';

const acts = {
  platform: proxyActivities<AppPlatformActivities>(ActivityOptionSets.platformCall),
  keys: proxyActivities<NodeAgentActivities>(ActivityOptionSets.hostRead),
};

/** A reconcile, then at most one repair per node-agent failure mode and a reconcile after each. */
const MAX_ATTEMPTS = 5;

/**
 * bootstrap-ssh-reconcile: an app instance's bootstrap SSH trust re-applied through the
 * node-agent (seed 001, recovery C).
 *
 * pre-checks: the instance and its controller allocation (active and bound), the bound
 * worker, the allocation user's authorized_keys as it is → procedure: `POST
 * .../bootstrap-ssh/reconcile` and follow the
 * `allocation.reconcile_managed_authorized_key` node task; a task still queued means the
 * agent is not connected: diagnose it (failure modes 3–5), repair it, reconcile again →
 * verify over SSH: the managed key is in authorized_keys and no other line changed.
 */
export async function bootstrapSshReconcile(request: BootstrapSshReconcileRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(BootstrapSshReconcileInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_BOOTSTRAP_SSH_RECONCILE, correlationId: input.correlation_id, runMode: input.run_mode });
  setHandler(reconcileRequestSignal, (req) => run.queueEvidence('request', 'alert', `reconcile requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => reconcileTrust(run, input));
}

async function reconcileTrust(run: RunbookRun, input: BootstrapSshReconcileInput): Promise<RunbookResult> {
  upsertSearchAttributes([{ key: SA.AppInstanceId, value: input.app_instance_id }]);

  // ---- pre-checks: read only ----
  run.phase('pre_checks');
  const state = await run.step('read_app_instance', (ctx) => acts.platform.readDeployState(ctx, input.project_id, input.app_instance_id), {
    describe: (s) => (s.instance ? `${s.instance.status}; ${s.members.length} member(s)` : 'not found'),
  });
  if (!state.instance) return { outcome: 'escalated', summary: `no app instance ${input.app_instance_id} in project ${input.project_id}` };
  const allocation = await run.step('read_controller_allocation', (ctx) => acts.platform.readAllocation(ctx, state.instance!.controller_allocation_id), {
    describe: (a) => `${a.id} ${a.state}${a.bound ? `, bound to ${a.node_id}` : ', not bound'}`,
  });
  if (allocation.state !== 'active' || !allocation.bound) {
    return { outcome: 'escalated', summary: `controller allocation ${allocation.id} is ${allocation.state} and not bound: nothing to reconcile trust on yet` };
  }
  const node = await resolveTarget(run, allocation.node_id, 'read_allocation_keys', 'bootstrap SSH reconcile');
  const user = allocation.ssh_user ?? 'gpuaas';
  const before = await run.step('read_authorized_keys', (ctx) => acts.keys.readAuthorizedKeys(ctx, user), {
    describe: (l) => `${l.length} key line(s) for ${user}`,
  });

  const stop = await planCheckpoint(
    run,
    {
      runbook: RUNBOOK_BOOTSTRAP_SSH_RECONCILE,
      node_id: node.node_id,
      actions: [
        { kind: 'http', step: 'reconcile_bootstrap_ssh', ...appRuntimeRequests.reconcileBootstrapSsh(input.project_id, input.app_instance_id) },
        {
          kind: 'branch',
          step: 'reconcile_bootstrap_ssh_task',
          on: 'the node task',
          cases: [
            { when: 'completed', actions: [] },
            {
              when: 'still queued: the agent is offline',
              actions: [{ kind: 'check', step: 'diagnose_node_agent', what: 'failure modes 3–5, repaired on the worker, then reconcile again' }],
            },
          ],
        },
        { kind: 'check', step: 'verify_authorized_keys', what: `the managed key in /home/${user}/.ssh/authorized_keys, other lines unchanged` },
        { kind: 'end', outcome: 'reconciled', why: 'the managed key is in place' },
      ],
    },
    undefined,
  );
  if (stop) return stop;

  // ---- procedure: reconcile; a task that stays queued sends us to the agent ----
  run.phase('procedure');
  const agent = new NodeAgentRepair(run, input);
  const repaired: FailureFinding[] = [];
  for (let attempt = 1; ; attempt++) {
    const ended = await agent.reconcile('reconcile_bootstrap_ssh');
    if (ended === 'completed') break;
    if (ended === 'failed') return { outcome: 'escalated', summary: `first failing boundary: worker_compute — the reconcile task failed on ${node.hostname}` };
    const findings = await agent.diagnose(node.node_id);
    const next = findings.find((f) => !repaired.some((r) => r.mode === f.mode));
    if (!next || attempt >= MAX_ATTEMPTS) {
      const held = findings.map((f) => `${f.mode}: ${f.evidence}`).join('; ') || 'the agent looks healthy, yet the task was not dispatched';
      return { outcome: 'escalated', summary: `first failing boundary: worker_compute — the reconcile task stayed ${ended} on ${node.hostname} (${held})` };
    }
    await agent.repair(next, FAILURE_MODE_FACTS[next.mode].step);
    repaired.push(next);
  }

  // ---- verify: over SSH, the key is there and nothing else moved ----
  run.phase('verify');
  const after = await run.step('verify_authorized_keys', (ctx) => acts.keys.readAuthorizedKeys(ctx, user), { describe: (l) => `${l.length} key line(s)` });
  const check = checkManagedKey(before, after, input.app_instance_id);
  if (!check.present)
    return {
      outcome: 'escalated',
      summary: `the reconcile task completed but the managed key of ${input.app_instance_id} is not in ${user}'s authorized_keys on ${node.hostname}`,
    };
  if (check.touched.length)
    return {
      outcome: 'escalated',
      summary: `the reconcile changed ${check.touched.length} key line(s) it does not own in ${user}'s authorized_keys on ${node.hostname}`,
    };
  const fixes = repaired.length ? `; node-agent repaired first: ${repaired.map((f) => f.mode).join(', ')}` : '';
  return {
    outcome: 'reconciled',
    summary: `the managed key of ${input.app_instance_id} is in ${user}'s authorized_keys on ${node.hostname}, other keys untouched${fixes}`,
  };
}
