/**
 * The seeds' host-role design and safety rules, quoted, as the engine enforces
 * them. ACTION_ALLOWED_ROLES (host-roles.ts) says where each host action may
 * run; this file says which rule forbids it everywhere else, so a refusal names
 * the rule and its source instead of only a role. docs/host-role-rules.md is
 * written from this table (`npm run docs`) and test/unit/host-role-rules.test.ts
 * checks that every forbidden action on every role has its rule.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from './errors';
import { ACTION_ALLOWED_ROLES, HOST_ROLES, isActionAllowed, type HostAction, type HostRole } from './host-roles';

export interface HostRoleRule {
  id: string;
  /** The rule in the seed's own words. */
  quote: string;
  /** Where it is written: seed and section. */
  source: string;
  /** The roles the rule protects, and the actions it refuses there; none for rules checked elsewhere. */
  refuses?: { roles: readonly HostRole[]; actions: readonly HostAction[] };
  /** Where the engine enforces it, for the docs. */
  enforced: string;
}

/** What changes a GPU worker's hardware, drivers or processes. */
const DESTRUCTIVE_WORKER_ACTIONS = [
  'reset_gpu',
  'reboot_host',
  'run_gpu_diag',
  'set_persistence_mode',
  'install_gpu_driver',
  'repair_node_agent',
  'signal_pool_workers',
] as const;
/** Everything a worker does (its GPUs, node-agent, allocations, pools, model files). */
const WORKER_ACTIONS = [
  ...DESTRUCTIVE_WORKER_ACTIONS,
  'read_gpu_state',
  'read_node_agent',
  'read_allocation_keys',
  'read_pool_processes',
  'read_model_artifacts',
] as const;

const AT_EVERY_HOST_ACTION = 'before any SSH connection: HostAccess.authorize (every host action of every runbook) and the check_host_role pre-check';

/** In order of precedence: the first rule that refuses an action on a role is the one quoted. */
export const HOST_ROLE_RULES: readonly HostRoleRule[] = [
  {
    id: 'app-recovery-stays-off-gpu',
    quote: 'do not "fix" by moving the control-plane function onto the GPU host',
    source: 'seed 000, Recovery Guidance (app_control incident)',
    refuses: { roles: ['worker_compute'], actions: ['manage_app_controller'] },
    enforced: AT_EVERY_HOST_ACTION,
  },
  {
    id: 'no-control-daemons-on-gpu',
    quote: 'Platform-app control components belong on dev-lab-1, not on GPU workers.',
    source: 'seed 002, Design Rules',
    refuses: { roles: ['worker_compute'], actions: ['read_app_controller', 'read_orchestrator', 'manage_orchestrator'] },
    enforced: `${AT_EVERY_HOST_ACTION}; leader-recovery and drain-and-rolling-upgrade check every replica host before their first SSH`,
  },
  {
    id: 'no-destructive-hardware-on-platform-control',
    quote: 'Must not be used as a general test worker for destructive hardware scenarios.',
    source: 'seed 002, dev-control-1 (platform_control)',
    refuses: { roles: ['platform_control'], actions: DESTRUCTIVE_WORKER_ACTIONS },
    enforced: AT_EVERY_HOST_ACTION,
  },
  {
    id: 'platform-apps-off-platform-control',
    quote: 'platform-app control stacks remain off this host',
    source: 'seed 002, dev-control-1 (platform_control)',
    refuses: { roles: ['platform_control'], actions: ['read_app_controller', 'manage_app_controller'] },
    enforced: AT_EVERY_HOST_ACTION,
  },
  {
    id: 'worker-duties-on-workers',
    quote: 'node-agent, allocation runtime, terminal path, GPU validation, future MaaS worker validation',
    source: 'seed 000, Host-Role Model (worker_compute)',
    refuses: { roles: ['app_control', 'platform_control'], actions: WORKER_ACTIONS },
    enforced: AT_EVERY_HOST_ACTION,
  },
  {
    id: 'gpu-validation-serialized',
    quote: 'Real GPU jobs must run through tagged and serialized pipelines only.',
    source: 'seed 002, Design Rules',
    enforced:
      "runGpuDiag refuses to start dcgmi diag unless the calling run holds the node's own disruption scope (node/<id>, cap 1), so two validation jobs never share a worker",
  },
  {
    id: 'no-ci-on-gpu',
    quote: 'No arbitrary CI jobs on dev-gpu-1',
    source: 'seed 002, Safety Rules',
    enforced:
      'no runbook starts CI work on any host; a runner found on a GPU worker is a boundary-validation finding (domain/boundary-validation.ts, run over SSH by incident-triage, step validate_host_boundaries)',
  },
  {
    id: 'lab-host-not-platform-control',
    quote: 'Confirm the lab host is not being treated as the platform control-plane host.',
    source: 'seed 000, Boundary Validation',
    enforced:
      'GitLab, the registry or the GPUaaS API found on the app_control host is a boundary-validation finding (domain/boundary-validation.ts, run over SSH by incident-triage, step validate_host_boundaries)',
  },
];

export const GPU_VALIDATION_RULE = ruleById('gpu-validation-serialized');

export function ruleById(id: string): HostRoleRule {
  const rule = HOST_ROLE_RULES.find((r) => r.id === id);
  if (!rule) throw new Error(`no host-role rule ${id}`);
  return rule;
}

/** The rule that forbids `action` on a host of `role`; undefined when the action is allowed there. */
export function ruleRefusing(action: HostAction, role: HostRole): HostRoleRule | undefined {
  if (isActionAllowed(action, role)) return undefined;
  return HOST_ROLE_RULES.find((r) => r.refuses?.roles.includes(role) && r.refuses.actions.includes(action));
}

/** How a refusal cites its rule: `rule <id>: “<quote>” (<source>)`. */
export function citeRule(rule: HostRoleRule): string {
  return `rule ${rule.id}: “${rule.quote}” (${rule.source})`;
}

/**
 * The message of a HostRoleViolation: what was refused where, the roles that may
 * do it, and the rule. `what` names the runbook or step when the caller has one.
 */
export function hostRoleViolationMessage(action: HostAction, host: { hostname: string; role: HostRole }, what?: string): string {
  const rule = ruleRefusing(action, host.role);
  const subject = what ?? action;
  const allowed = ACTION_ALLOWED_ROLES[action].join(' or ');
  return `${subject} refused on ${host.hostname}: its role is ${host.role}, ${action} runs only on ${allowed} hosts${rule ? `; ${citeRule(rule)}` : ''}`;
}

/** The typed, non-retryable refusal every host-role check throws, before any connection is made. */
export function hostRoleViolation(action: HostAction, host: { node_id: string; hostname: string; role: HostRole }, what?: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: ErrorType.HostRoleViolation,
    message: hostRoleViolationMessage(action, host, what),
    nonRetryable: true,
    details: [{ node_id: host.node_id, host_role: host.role, action, rule: ruleRefusing(action, host.role)?.id ?? null }],
  });
}

/** Every (action, role) pair the engine refuses, for the docs and the coverage test. */
export function forbiddenPairs(): { action: HostAction; role: HostRole }[] {
  return (Object.keys(ACTION_ALLOWED_ROLES) as HostAction[]).flatMap((action) =>
    HOST_ROLES.filter((role) => !isActionAllowed(action, role)).map((role) => ({ action, role })),
  );
}
