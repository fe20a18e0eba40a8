/**
 * gpu-fault-remediation's plan: what the procedure would do to the node, built
 * from what the pre-checks read, with the same command and request builders the
 * activities use. It follows workflow.ts step for step; the plan-mode test runs
 * a plan and then the live run and compares them action for action.
 */
import type { HostDescription } from '../../capabilities/inventory/inventory-activities';
import type { NodeState } from '../../capabilities/platform/platform-activities';
import { bootIdCommand, diagCommand, persistenceModeCommand, rebootCommand, resetGpuCommand } from '../../capabilities/gpu/commands';
import { platformRequests, type PlatformRequest } from '../../capabilities/platform/requests';
import type { GpuRow } from '../../domain/gpu-observations';
import type { Plan, PlannedAction, PlannedHttp, PlannedSsh } from '../../domain/plan';
import { compareActions, type Classification } from './policies/fault-classification';
import { cordonReason, gpusToReset, remediatedSummary, summarize, uncordonReason } from './policies/node-texts';
import { REPEAT_REMEDIATION_LIMIT, REPEAT_REMEDIATION_WINDOW_DAYS, RMA_MIN_DIAG_LEVEL, RUNBOOK_GPU_FAULT, type FaultAction, type GpuFaultInput } from './input';

/** What the pre-checks found; everything the plan depends on. */
export interface RemediationFacts {
  input: GpuFaultInput;
  host: HostDescription;
  node: NodeState;
  classification: Classification;
  gpus: GpuRow[];
  /** Earlier remediations in the window; undefined when the fault needs no drain (not read). */
  previous: number | undefined;
  /** Disruption scopes the node is leased from; undefined for runs that take no slots. */
  scopes: string[] | undefined;
}

export function planRemediation(f: RemediationFacts): Plan {
  return { runbook: RUNBOOK_GPU_FAULT, node_id: f.input.node_id, actions: new RemediationPlanner(f).actions() };
}

class RemediationPlanner {
  constructor(private readonly f: RemediationFacts) {}

  actions(): PlannedAction[] {
    const { classification: c, host, previous } = this.f;
    if (!c.fault_found) return [end('no_fault_found', `no new Xid or memory fault on ${host.hostname}`)];
    if (compareActions(c.action, 'drain_and_diagnose') < 0) return [end('no_action_required', `${summarize(c)}; the node stays in service`)];
    return [
      ...(previous !== undefined && previous >= REPEAT_REMEDIATION_LIMIT
        ? this.approve(
            'approve_repeat_remediation',
            `${host.hostname} was already remediated ${previous} times in ${REPEAT_REMEDIATION_WINDOW_DAYS} days. Remediate again?`,
            'nothing was touched',
          )
        : []),
      ...(this.f.scopes ? [{ kind: 'lease' as const, step: 'lease_disruption_slots', node_id: this.f.input.node_id, scopes: this.f.scopes }] : []),
      ...(this.f.node.schedulable ? [this.http('cordon_node', platformRequests.cordon(this.f.input.node_id, cordonReason(c)))] : []),
      ...this.drain(),
      ...this.remedy(c.action),
    ];
  }

  private drain(): PlannedAction[] {
    const nodeId = this.f.input.node_id;
    const wait = (step: string): PlannedAction => ({
      kind: 'wait',
      step,
      until: 'no allocation is left on the node',
      timeout_ms: this.f.input.drain_timeout,
      poll: this.http(step, platformRequests.listAllocations(nodeId)),
    });
    const stuck = 'allocations remain after the drain timeout';
    return [
      wait('wait_for_drain'),
      branch('wait_for_drain', 'the drain finishing in time', [
        { when: 'drained', actions: [] },
        {
          when: stuck,
          actions: [
            ...this.approve('approve_force_drain', `allocation(s) on ${this.f.host.hostname} did not drain in time. Force-evict them?`, 'node stays cordoned'),
            this.http('evict_allocations', platformRequests.evictAllocations(nodeId, 'approved by <approver>: <reason>')),
            wait('wait_for_drain_after_evict'),
            branch('wait_for_drain_after_evict', 'the evicted allocations ending', [
              { when: 'drained', actions: [] },
              { when: 'allocations survive the evict', actions: [end('held_for_operator', 'node stays cordoned')] },
            ]),
          ],
        },
      ]),
    ];
  }

  /** The remedy the classification asks for, then the verify it leads to; every path ends. */
  private remedy(action: FaultAction): PlannedAction[] {
    if (action === 'reset_gpu') {
      return [
        ...gpusToReset(this.f.classification, this.f.gpus, this.f.input.gpu_index).flatMap((gpu) => this.resetOne(gpu)),
        check('verify_gpus_after_reset', 'the GPU table and new Xids over SSH'),
        branch('verify_gpus_after_reset', 'the reset and the GPUs after it', [
          { when: 'every GPU visible and no new Xid', actions: this.verify('reset_gpu') },
          { when: 'reset refused, or GPUs unhealthy after it', actions: this.remedy('reboot_node') },
        ]),
      ];
    }
    if (action === 'reboot_node') {
      const bootId = bootIdCommand();
      return [
        this.ssh('read_boot_id', bootId, false),
        this.ssh('reboot_node', rebootCommand(), true),
        {
          kind: 'wait',
          step: 'reboot_node',
          until: 'the host answers with a new boot id',
          timeout_ms: this.f.input.reboot_timeout,
          poll: this.ssh('reboot_node', bootId, false),
        },
        check('verify_gpus_after_reboot', 'the GPU table and the new boot’s Xids over SSH'),
        branch('verify_gpus_after_reboot', 'the host after the reboot', [
          { when: 'back, every GPU visible and no new Xid', actions: this.verify('reboot_node') },
          { when: 'not back before the reboot timeout', actions: [end('held_for_operator', 'node stays cordoned')] },
          { when: 'GPUs unhealthy after it', actions: this.verify('rma_candidate') },
        ]),
      ];
    }
    return this.verify(action);
  }

  private resetOne(gpu: GpuRow): PlannedAction[] {
    const tag = `gpu${gpu.index}`;
    const pm = gpu.persistence_mode === true;
    return [
      ...(pm ? [this.ssh(`disable_persistence_${tag}`, persistenceModeCommand(gpu.uuid, false), true)] : []),
      this.ssh(`reset_${tag}`, resetGpuCommand(gpu.uuid), true),
      ...(pm ? [this.ssh(`restore_persistence_${tag}`, persistenceModeCommand(gpu.uuid, true), true)] : []),
    ];
  }

  private verify(action: FaultAction): PlannedAction[] {
    const gpuCount = this.f.host.gpu_count;
    const level = action === 'rma_candidate' ? Math.max(RMA_MIN_DIAG_LEVEL, this.f.input.diag_level) : this.f.input.diag_level;
    const unavailable = { when: 'dcgmi cannot run', actions: [end('held_for_operator', 'node stays cordoned for a person')] };
    const failed =
      level < RMA_MIN_DIAG_LEVEL
        ? [
            this.ssh('confirm_gpu_diag', diagCommand(RMA_MIN_DIAG_LEVEL), false),
            branch('confirm_gpu_diag', `the r${RMA_MIN_DIAG_LEVEL} diag`, [
              { when: 'it fails too', actions: this.rma() },
              { when: 'it passes (inconsistent)', actions: [end('held_for_operator', 'node stays cordoned for a person')] },
              { when: 'dcgmi cannot run', actions: [end('held_for_operator', 'node stays cordoned')] },
            ]),
          ]
        : this.rma();
    return [
      this.ssh('run_gpu_diag', diagCommand(level), false),
      branch('run_gpu_diag', `the diag over all ${gpuCount} GPUs`, [
        action === 'rma_candidate'
          ? { when: 'any verdict (an RMA candidate escalates)', actions: this.rma() }
          : { when: 'pass', actions: this.returnToService(remediatedSummary(this.f.classification, action, level, gpuCount)) },
        ...(action === 'rma_candidate' ? [] : [{ when: 'not a pass', actions: failed }]),
        unavailable,
      ]),
    ];
  }

  private returnToService(summary: string): PlannedAction[] {
    const nodeId = this.f.input.node_id;
    const release: PlannedAction[] = this.f.scopes ? [{ kind: 'release', step: 'release_disruption_slots', node_id: nodeId, scopes: this.f.scopes }] : [];
    const leftCordoned = [...release, end('remediated_left_cordoned', 'someone else holds the node out of service')];
    if (!this.f.node.schedulable) return [this.http('reread_node_state', platformRequests.getNode(nodeId)), ...leftCordoned];
    return [
      this.http('reread_node_state', platformRequests.getNode(nodeId)),
      branch('reread_node_state', 'who holds the node now', [
        {
          when: 'still cordoned by this runbook only, no RMA open',
          actions: [this.http('uncordon_node', platformRequests.uncordon(nodeId, uncordonReason(summary))), ...release, end('returned_to_service', summary)],
        },
        { when: 'cordoned again by someone else, or an RMA opened', actions: leftCordoned },
      ]),
    ];
  }

  private rma(): PlannedAction[] {
    const { node, host, input } = this.f;
    if (node.open_rma_tickets.length > 0) {
      return [end('held_for_operator', `RMA ticket ${node.open_rma_tickets.join(', ')} is already open; no second ticket`)];
    }
    const ticket = {
      node_id: input.node_id,
      gpu_uuid: '<the GPU the diag failed>',
      summary: `${host.hostname}: <why, from the diag>`,
      evidence: '<classification, diags, approval, alerts, workflow id>',
    };
    return [
      ...this.approve('approve_rma', `${host.hostname}: <why, from the diag>. Open an RMA ticket?`, 'node stays cordoned'),
      this.http('open_rma_ticket', platformRequests.openRmaTicket(ticket)),
      end('rma_opened', 'node stays cordoned'),
    ];
  }

  /** An approval, and the branch its decision makes: approve carries on, anything else ends held. */
  private approve(step: string, question: string, held: string): PlannedAction[] {
    return [
      { kind: 'approval', step, question },
      branch(step, 'the decision', [
        { when: 'approved', actions: [] },
        { when: 'rejected or timed out', actions: [end('held_for_operator', held)] },
      ]),
    ];
  }

  private ssh(step: string, argv: string[], mutates: boolean): PlannedSsh {
    return { kind: 'ssh', step, host: this.f.host.hostname, host_role: this.f.host.role, argv, mutates };
  }

  private http(step: string, req: PlatformRequest): PlannedHttp {
    return { kind: 'http', step, method: req.method, path: req.path, ...(req.body === undefined ? {} : { body: req.body }), mutates: req.mutates };
  }
}

function branch(step: string, on: string, cases: { when: string; actions: PlannedAction[] }[]): PlannedAction {
  return { kind: 'branch', step, on, cases };
}

function check(step: string, what: string): PlannedAction {
  return { kind: 'check', step, what };
}

function end(outcome: string, why: string): PlannedAction {
  return { kind: 'end', outcome, why };
}
