import { patched, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AppPlatformActivities, DeployState } from '../../capabilities/app-runtime/app-platform-activities';
import type { ControllerActivities } from '../../capabilities/app-runtime/controller-activities';
import type { HostDescription } from '../../capabilities/inventory/inventory-activities';
import { diagnoseDeploy, type FailureFinding, type FailureMode } from '../../domain/app-runtime-failures';
import type { RunReport } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { ActivityOptionSets } from '../../engine/activity-options';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput, resolveTarget } from '../../engine/target';
import { appInstanceDeployRunbook } from './definition';
import {
  AppInstanceDeployInputSchema,
  deployRequestSignal,
  RUNBOOK_APP_INSTANCE_DEPLOY,
  type AppInstanceDeployInput,
  type AppInstanceDeployRequest,
} from './input';
import { appRuntimeRequests } from '../../capabilities/app-runtime/requests';
import { findAppControlHost, onHost } from '../app-control-host';
import { NodeAgentRepair } from '../node-agent-repair';
import { planDeploy } from './plan';
import { escalationText, fixQuestion, fixStep, followUps } from './policies/fixes';

const acts = {
  platform: proxyActivities<AppPlatformActivities>(ActivityOptionSets.platformCall),
  controller: proxyActivities<ControllerActivities>(ActivityOptionSets.hostRead),
};

/** More rounds than failure modes: each mode is fixed at most once, so the loop always ends. */
const MAX_ROUNDS = 7;
/** Runs started before it reported an instance they had just created, and found converged, as already_running. */
const CREATED_IS_NOT_ALREADY_RUNNING = 'created-is-not-already-running';

/**
 * app-instance-deploy: a slurm-reference app instance to `running`, new or stuck in
 * `deploying` (seed 001).
 *
 * pre-checks (read only, in the page's order): the app instance, its members and member
 * operations; the controller allocation active and bound (then this is an
 * adapter/controller incident, not an allocation incident); the controller on the
 * app_control host; the node-agent on the bound worker; its queued bootstrap tasks →
 * diagnose the six known failure modes, owning boundary first → procedure: fix the
 * first that holds (controller fixes behind an approval), diagnose again, until none
 * holds or a fix does not take → verify: running, controller ready with slurm_ready,
 * slurmctld up, slurmd idle, and a new bootstrap SSH reconcile completed through the
 * node-agent.
 */
export async function appInstanceDeploy(request: AppInstanceDeployRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(AppInstanceDeployInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_APP_INSTANCE_DEPLOY, correlationId: input.correlation_id, runMode: input.run_mode });
  setHandler(deployRequestSignal, (req) => run.queueEvidence('request', 'alert', `deploy requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => new DeployRun(run, input).deploy());
}

class DeployRun {
  /** Platform waits bounded by the run's converge_timeout, heartbeating every poll. */
  private readonly waits: AppPlatformActivities;
  private readonly agent: NodeAgentRepair;
  /** Failure modes found and fixed, in the order they were. */
  private readonly fixed: FailureMode[] = [];
  private controlHost!: HostDescription;
  private boundNode!: HostDescription;
  private controllerInstalled = true;

  constructor(
    private readonly run: RunbookRun,
    private readonly input: AppInstanceDeployInput,
  ) {
    this.waits = proxyActivities<AppPlatformActivities>(ActivityOptionSets.boundedWait(input.converge_timeout, input.poll_interval));
    this.agent = new NodeAgentRepair(run, input);
  }

  async deploy(): Promise<RunbookResult> {
    const { run, input } = this;
    upsertSearchAttributes([{ key: SA.AppInstanceId, value: input.app_instance_id }]);

    // ---- pre-checks: nothing on the hosts or the platform changes here ----
    run.phase('pre_checks');
    let state = await this.readState('read_app_instance');
    const creating = !state.instance;
    if (!state.instance) {
      if (!input.create)
        return this.end('escalated', `no app instance ${input.app_instance_id} in project ${input.project_id}, and the request did not ask to create it`);
      if (run.id.runMode === 'plan') return this.planNewDeploy();
      run.phase('procedure');
      await run.step('create_app_instance', (ctx) =>
        acts.platform.createAppInstance(ctx, input.project_id, {
          id: input.app_instance_id,
          app_slug: 'slurm-reference',
          name: input.create!.name,
          controller_node_id: input.create!.controller_node_id,
        }),
      );
      state = await this.readState('read_app_instance');
      run.phase('pre_checks');
    }
    const instance = state.instance!;
    const controller = state.members.find((m) => m.role === 'controller');
    // An instance this run created may converge before it reads it again (a healthy
    // environment is quick): it is verified like any other, not reported as found running.
    const createdByThisRun = creating && patched(CREATED_IS_NOT_ALREADY_RUNNING);
    if (instance.status === 'running' && controller?.state === 'ready' && !createdByThisRun) {
      return this.end('already_running', `${instance.id} is running with its controller ready; nothing to do`);
    }

    const allocation = await run.step(
      'read_controller_allocation',
      (ctx) => this.waits.waitForAllocationBound(ctx, instance.controller_allocation_id, this.input.converge_timeout, this.input.poll_interval),
      {
        describe: (a) => `${a.id} ${a.state}${a.bound ? `, bound to ${a.node_id}` : ', not bound'}`,
      },
    );
    if (allocation.state !== 'active' || !allocation.bound) {
      return this.end(
        'escalated',
        `controller allocation ${allocation.id} is ${allocation.state}${allocation.bound ? '' : ' and not bound'}: an allocation incident, not an adapter one; this runbook stops here`,
      );
    }
    await run.evidence(
      run.context('read_controller_allocation'),
      'classification',
      `controller allocation ${allocation.id} is active and bound to ${allocation.node_id}: an adapter/controller incident, not an allocation incident`,
      { allocation, instance },
    );

    this.controlHost = await findAppControlHost(run, input.app_control_node_id);
    this.boundNode = await resolveTarget(run, allocation.node_id, appInstanceDeployRunbook.targetAction, 'node-agent work');
    let findings = await this.diagnose();

    const stop = await planCheckpoint(
      run,
      planDeploy({ input, findings, controlHost: this.controlHost.node_id, boundNode: this.boundNode.node_id, controllerInstalled: this.controllerInstalled }),
      undefined,
    );
    if (stop) return stop;

    // ---- procedure: fix the first failure mode that holds, then look again ----
    run.phase('procedure');
    const attempted = new Set<FailureMode>();
    for (let round = 1; findings.length > 0; round++) {
      const finding = findings[0]!;
      if (attempted.has(finding.mode) || round > MAX_ROUNDS) return this.escalate(finding, 'it still holds after its fix');
      attempted.add(finding.mode);
      const stopped = await this.fix(finding);
      if (stopped) return stopped;
      this.fixed.push(finding.mode);
      findings = await this.diagnose();
    }

    // ---- verify: the page's success criteria ----
    run.phase('verify');
    const converged = await run.step(
      'wait_for_running',
      (ctx) => this.waits.waitForInstanceRunning(ctx, input.project_id, instance.id, input.converge_timeout, input.poll_interval),
      { describe: (s) => `${s.instance?.status ?? 'gone'}; controller ${s.members.find((m) => m.role === 'controller')?.state ?? 'missing'}` },
    );
    const ready = converged.members.find((m) => m.role === 'controller');
    const detail = ready?.adapter_detail;
    if (
      converged.instance?.status !== 'running' ||
      ready?.state !== 'ready' ||
      detail?.phase !== 'slurm_ready' ||
      detail.slurmctld_state !== 'up' ||
      detail.slurmd_state !== 'idle'
    ) {
      return this.end(
        'escalated',
        `first failing boundary: app_control — the instance did not reach running (${converged.instance?.status ?? 'gone'}, controller ${ready?.state ?? 'missing'}, phase ${detail?.phase ?? '-'}, slurmctld ${detail?.slurmctld_state ?? '-'}, slurmd ${detail?.slurmd_state ?? '-'}${detail?.last_error ? `, last error: ${detail.last_error}` : ''}) within ${input.converge_timeout} ms of the last fix`,
      );
    }
    const reconciled = await this.agent.reconcile('verify_bootstrap_ssh');
    if (reconciled !== 'completed') {
      return this.end('escalated', `first failing boundary: worker_compute — a new bootstrap SSH reconcile ended ${reconciled} on ${this.boundNode.hostname}`);
    }
    const found = this.fixed.length ? `failure mode(s) found and fixed: ${this.fixed.join(', ')}` : 'no failure mode held; it converged on its own';
    return this.end('running', `${instance.id} is running (slurm_ready, slurmctld up, slurmd idle, bootstrap SSH reconcile completed); ${found}`);
  }

  private readState(step: string): Promise<DeployState> {
    return this.run.step(step, (ctx) => acts.platform.readDeployState(ctx, this.input.project_id, this.input.app_instance_id), {
      describe: (s) => (s.instance ? `${s.instance.status}; ${s.members.length} member(s), ${s.operations.length} member operation(s)` : 'not found'),
    });
  }

  /** Reads the controller, the node-agent and the queued tasks, and says which failure modes hold. */
  private async diagnose(): Promise<FailureFinding[]> {
    const { run, input } = this;
    const controller = await run.step('read_controller_state', (ctx) => acts.controller.readControllerState(onHost(ctx, this.controlHost)), {
      describe: (c) => (c.installed ? `build ${c.build ?? '?'}, ${c.running ? 'active' : 'not active'}` : 'not installed'),
    });
    this.controllerInstalled = controller.installed;
    const agent = await this.agent.readAgent();
    const queued = await this.agent.queuedTasks(this.boundNode.node_id);
    const state = await this.readState('read_members');
    const member = state.members.find((m) => m.role === 'controller');
    const findings = diagnoseDeploy({
      now: new Date().toISOString(),
      controller: { running: controller.running, build: controller.build },
      knownGoodBuild: input.controller_build,
      member: member ? { hostname: member.adapter_detail.hostname, last_error: member.adapter_detail.last_error } : null,
      agent: { ...agent, nodeApiName: input.node_api_name, controlPlaneAddress: input.control_plane_address },
      queuedTasks: queued,
    });
    await run.step(
      'diagnose',
      (ctx) => run.evidence(ctx, 'classification', findings.length ? findings.map((f) => f.mode).join(', ') : 'no known failure mode holds', { findings }),
      { describe: () => (findings.length ? findings.map((f) => `${f.mode} (${f.boundary})`).join('; ') : 'none holds') },
    );
    return findings;
  }

  /** Applies the fix of one finding; a result ends the run (not approved, or the fix cannot be confirmed). */
  private async fix(f: FailureFinding): Promise<RunbookResult | undefined> {
    const { run, input } = this;
    const step = fixStep(f.mode);
    if (f.needsApproval) {
      const decision = await run.approval(
        `approve_${step}`,
        fixQuestion(f, input, this.controlHost.hostname),
        { finding: f, app_instance_id: input.app_instance_id, controller_host: this.controlHost.hostname },
        input.approval_timeout,
        { kind: 'generic', disruption: `slurm-reference-controller on ${this.controlHost.hostname} is (re)started; other app instances it serves reconnect` },
      );
      if (decision.decision === 'timeout') {
        return this.end('held_for_operator', `${escalationText(f, 'nobody decided on its fix in time')}; the run stopped before changing anything there`, [
          f.mode,
        ]);
      }
      if (decision.decision !== 'approve') return this.escalate(f, `the fix was rejected by ${decision.actor}: ${decision.reason}`);
    }
    switch (f.fix) {
      case 'bring_up_controller':
        await run.step(step, (ctx) => acts.controller.bringUpController(onHost(ctx, this.controlHost), input.controller_build), {
          describe: (c) => `build ${c.build}, ${c.running ? 'active' : 'not active'}`,
        });
        return undefined;
      case 'upgrade_controller':
        await run.step(step, (ctx) => acts.controller.installControllerBuild(onHost(ctx, this.controlHost), input.controller_build), {
          describe: (c) => `build ${c.build}, ${c.running ? 'active' : 'not active'}`,
        });
        return undefined;
      case 'reconcile_bootstrap_ssh': {
        await this.agent.repair(f, step);
        const ended = await this.agent.reconcile(step);
        return ended === 'completed' ? undefined : this.escalate(f, `the reconcile task ended ${ended}`);
      }
      default:
        // Modes 3-5: the node-agent's own repairs, on the bound worker.
        await this.agent.repair(f, step);
        return undefined;
    }
  }

  private escalate(f: FailureFinding, why: string): Promise<RunbookResult> {
    return this.end('escalated', escalationText(f, why), [f.mode]);
  }

  /** The run's result, with the durable follow-ups the page asks to track for every failure mode found. */
  private async end(outcome: string, summary: string, unfixed: FailureMode[] = []): Promise<RunbookResult> {
    const found = [...this.fixed, ...unfixed];
    const items = followUps(found);
    if (items.length) await this.run.evidence(this.run.context('follow_ups'), 'note', `follow-ups: ${items.join('; ')}`, { found, follow_ups: items });
    return { outcome, summary: items.length ? `${summary}. Track: ${items.join('; ')}` : summary };
  }

  /** Plan mode for an instance that does not exist yet: create it, then diagnose what the new deploy shows. */
  private async planNewDeploy(): Promise<RunbookResult> {
    const { run, input } = this;
    const stop = await planCheckpoint(
      run,
      {
        runbook: RUNBOOK_APP_INSTANCE_DEPLOY,
        node_id: input.create!.controller_node_id,
        actions: [
          {
            kind: 'http',
            step: 'create_app_instance',
            ...appRuntimeRequests.createAppInstance(input.project_id, {
              app_slug: 'slurm-reference',
              name: input.create!.name,
              controller_node_id: input.create!.controller_node_id,
            }),
          },
          { kind: 'check', step: 'diagnose', what: 'the failure modes of the new instance, fixed in order as for a stuck one' },
          { kind: 'end', outcome: 'running', why: 'the success criteria of seed 001' },
        ],
      },
      undefined,
    );
    return stop!;
  }
}
