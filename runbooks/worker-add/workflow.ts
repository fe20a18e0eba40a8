import { patched, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AppPlatformActivities } from '../../capabilities/app-runtime/app-platform-activities';
import type { MemberOperation } from '../../capabilities/app-runtime/app-platform-client';
import type { ControllerActivities } from '../../capabilities/app-runtime/controller-activities';
import { appRuntimeRequests } from '../../capabilities/app-runtime/requests';
import type { HostDescription } from '../../capabilities/inventory/inventory-activities';
import { FAILURE_MODE_FACTS, type FailureFinding } from '../../domain/app-runtime-failures';
import type { RunReport } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { ActivityOptionSets } from '../../engine/activity-options';
import { DisruptionLease } from '../../engine/disruption-lease';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput, resolveTarget } from '../../engine/target';
import { workerAddRunbook } from './definition';
import { findAppControlHost, onHost } from '../app-control-host';
import { NodeAgentRepair } from '../node-agent-repair';
import { RUNBOOK_WORKER_ADD, WorkerAddInputSchema, workerAddRequestSignal, type WorkerAddInput, type WorkerAddRequest } from './input';

/** Runs started before it did not check who holds the node before joining it. */
const NODE_LEASE_PRECHECK = 'node-lease-precheck';

const acts = {
  platform: proxyActivities<AppPlatformActivities>(ActivityOptionSets.platformCall),
  controller: proxyActivities<ControllerActivities>(ActivityOptionSets.hostRead),
};

/**
 * worker-add: a GPU node joins a running slurm-reference instance as a Slurm worker
 * (seed 001's member operations).
 *
 * pre-checks: the node is worker_compute, the instance runs, the node is not a member
 * yet, its node-agent is healthy (or repaired: failure modes 3–5) → the node's
 * disruption slot → procedure: a worker_add member operation followed accepted →
 * running → succeeded / failed; a failed one is diagnosed with the same failure-mode
 * checks and retried once after its fix → verify on the app_control host: `scontrol
 * show node` says idle with the node's GPUs as gres → or roll back: remove the member,
 * leaving the controller as it was.
 */
export async function workerAdd(request: WorkerAddRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(WorkerAddInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_WORKER_ADD, correlationId: input.correlation_id, runMode: input.run_mode, nodeId: input.node_id });
  setHandler(workerAddRequestSignal, (req) => run.queueEvidence('request', 'alert', `add requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => new WorkerAddRun(run, input).add());
}

class WorkerAddRun {
  private readonly agent: NodeAgentRepair;
  private readonly waits: AppPlatformActivities;
  private controlHost!: HostDescription;

  constructor(
    private readonly run: RunbookRun,
    private readonly input: WorkerAddInput,
  ) {
    this.agent = new NodeAgentRepair(run, input);
    this.waits = proxyActivities<AppPlatformActivities>(ActivityOptionSets.boundedWait(input.converge_timeout, input.poll_interval));
  }

  async add(): Promise<RunbookResult> {
    const { run, input } = this;
    upsertSearchAttributes([{ key: SA.AppInstanceId, value: input.app_instance_id }]);

    // ---- pre-checks: read only ----
    run.phase('pre_checks');
    const node = await resolveTarget(run, input.node_id, workerAddRunbook.targetAction, 'a Slurm worker');
    const state = await run.step('read_app_instance', (ctx) => acts.platform.readDeployState(ctx, input.project_id, input.app_instance_id), {
      describe: (s) => (s.instance ? `${s.instance.status}; ${s.members.length} member(s)` : 'not found'),
    });
    if (state.instance?.status !== 'running') {
      return {
        outcome: 'escalated',
        summary: `app instance ${input.app_instance_id} is ${state.instance?.status ?? 'not found'}: deploy it first (app-instance-deploy)`,
      };
    }
    const member = state.members.find((m) => m.node_id === input.node_id);
    if (member) return { outcome: 'already_member', summary: `${node.hostname} is already ${member.role} member ${member.id} (${member.state})` };
    if (patched(NODE_LEASE_PRECHECK)) {
      // A node another run holds out of service (an RMA hold, a remediation) must not join
      // now; waiting behind a hold that only a person ends would look like a hang.
      const holders = await DisruptionLease.otherHolders(run);
      if (holders.length) {
        const by = holders.map((h) => `${h.holder} (${h.runbook}, since ${h.granted_at})`).join(', ');
        return {
          outcome: 'escalated',
          summary: `${node.hostname} is held out of service by ${by}: once it is fit to serve, a person releases its slot (gpuaas-runbooks budgets release --scope node/${input.node_id} --node ${input.node_id}) and adds it again`,
        };
      }
    }
    this.controlHost = await findAppControlHost(run, input.app_control_node_id);
    let findings = await this.agent.diagnose();

    const scopes = run.id.runMode === 'plan' ? await DisruptionLease.plannedScopes(run) : [];
    const stop = await planCheckpoint(run, this.plan(findings, scopes), undefined);
    if (stop) return stop;

    // ---- procedure: a healthy agent, the node's slot, the member operation ----
    run.phase('procedure');
    const repaired: FailureFinding[] = [];
    for (const f of findings) {
      await this.agent.repair(f, FAILURE_MODE_FACTS[f.mode].step);
      repaired.push(f);
    }
    // The node is under this run alone while it joins (no remediation reboots it meanwhile).
    const lease = new DisruptionLease(run, input.node_id);
    await lease.acquire();

    let op = await this.memberOperation('add_worker', 'worker_add');
    if (op.state === 'failed') {
      // The same failure-mode checks as a stuck deploy, before any retry.
      findings = (await this.agent.diagnose()).filter((f) => !repaired.some((r) => r.mode === f.mode));
      if (findings.length === 0) {
        await lease.release();
        return { outcome: 'escalated', summary: `worker_add failed (${op.error ?? 'no error given'}) and no known failure mode holds on ${node.hostname}` };
      }
      for (const f of findings) await this.agent.repair(f, FAILURE_MODE_FACTS[f.mode].step);
      op = await this.memberOperation('retry_add_worker', 'worker_add');
    }
    if (op.state !== 'succeeded') {
      await lease.release();
      return { outcome: 'escalated', summary: `worker_add ${op.state}${op.error ? `: ${op.error}` : ''}; ${node.hostname} was not added` };
    }

    // ---- verify: slurmctld sees the worker, idle, with its GPUs ----
    run.phase('verify');
    const members = await run.step('read_members', (ctx) => acts.platform.readDeployState(ctx, input.project_id, input.app_instance_id));
    const slurmName = members.members.find((m) => m.node_id === input.node_id)?.adapter_detail.hostname ?? node.hostname;
    const slurm = await run.step('verify_slurm_node', (ctx) => acts.controller.readSlurmNode(onHost(ctx, this.controlHost), slurmName), {
      describe: (n) =>
        n ? `${n.name} ${n.state}${n.flags.length ? `+${n.flags.join('+')}` : ''}, ${n.gpus} GPU(s) as gres` : `slurmctld does not know ${slurmName}`,
    });
    const verified = slurm !== null && slurm.state === 'idle' && slurm.flags.length === 0 && slurm.gpus === node.gpu_count;
    if (!verified) {
      // ---- rollback: remove the member; the controller stays as it was ----
      run.phase('rollback');
      const removed = await this.memberOperation('remove_worker', 'worker_remove');
      await lease.release();
      const seen = slurm ? `${slurm.state}${slurm.flags.length ? `+${slurm.flags.join('+')}` : ''} with ${slurm.gpus} GPU(s)` : 'unknown to slurmctld';
      return {
        outcome: 'rolled_back',
        summary: `${slurmName} joined but is ${seen}, not idle with ${node.gpu_count} GPUs; member removed (${removed.state}), controller untouched`,
      };
    }
    await lease.release();
    const fixes = repaired.length ? `; node-agent repaired first: ${repaired.map((f) => f.mode).join(', ')}` : '';
    return {
      outcome: 'added',
      summary: `${slurmName} (${node.hostname}) is a Slurm worker of ${input.app_instance_id}: idle, ${slurm.gpus} GPUs as gres${fixes}`,
    };
  }

  /** Creates a member operation and follows it to its end. */
  private async memberOperation(step: string, kind: 'worker_add' | 'worker_remove'): Promise<MemberOperation> {
    const { run, input } = this;
    const op = await run.step(step, (ctx) => acts.platform.requestMemberOperation(ctx, input.project_id, input.app_instance_id, kind, input.node_id), {
      describe: (o) => `${o.kind} ${o.id} ${o.state}`,
    });
    return run.step(
      `${step}_operation`,
      (ctx) => this.waits.waitForMemberOperation(ctx, input.project_id, input.app_instance_id, op.id, input.converge_timeout, input.poll_interval),
      { describe: (o) => `${o.id} ${o.state}${o.error ? `: ${o.error}` : ''}` },
    );
  }

  private plan(findings: FailureFinding[], scopes: string[]) {
    const { input } = this;
    return {
      runbook: RUNBOOK_WORKER_ADD,
      node_id: input.node_id,
      actions: [
        ...findings.map((f) => ({
          kind: 'check' as const,
          step: FAILURE_MODE_FACTS[f.mode].step,
          what: `repair the node-agent: ${FAILURE_MODE_FACTS[f.mode].title}`,
        })),
        { kind: 'lease' as const, step: 'lease_disruption_slots', node_id: input.node_id, scopes },
        {
          kind: 'http' as const,
          step: 'add_worker',
          ...appRuntimeRequests.createMemberOperation(input.project_id, input.app_instance_id, { kind: 'worker_add', node_id: input.node_id }),
        },
        { kind: 'check' as const, step: 'verify_slurm_node', what: `scontrol show node on ${this.controlHost.hostname}: idle, GPUs as gres` },
        { kind: 'end' as const, outcome: 'added', why: 'slurmd registered with slurmctld' },
      ],
    };
  }
}
