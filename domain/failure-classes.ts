/**
 * Seed 000's "Common Failure Classes", per host role, with what identifies each
 * in a failing log line or span: the component or service that failed, or the
 * machine-readable error it gave. Also where each service lives when its
 * evidence does not say, and the seed's recovery guidance per boundary.
 */
import type { HostRole } from './host-roles';

export interface FailureClass {
  id: string;
  role: HostRole;
  /** The seed's own name for it. */
  name: string;
  /** Components or services (lowercase) whose failure is this class. */
  components: readonly string[];
  /** Error codes that are this class wherever they are logged. */
  errors: readonly string[];
}

export const FAILURE_CLASSES: readonly FailureClass[] = [
  // platform_control
  {
    id: 'ci_image_drift',
    role: 'platform_control',
    name: 'CI image pull/build drift',
    components: ['ci-image', 'ci-build'],
    errors: ['image_pull_failed', 'image_digest_mismatch', 'build_failed'],
  },
  {
    id: 'control_plane_unavailable',
    role: 'platform_control',
    name: 'control-plane stack unavailable',
    components: ['control-plane', 'k3s-server', 'gpuaas-api', 'gpuaas-outbox-relay'],
    errors: ['control_plane_unavailable', 'deploy_rollout_failed'],
  },
  {
    id: 'observability_degraded',
    role: 'platform_control',
    name: 'observability stack degraded',
    components: ['loki', 'tempo', 'prometheus', 'grafana', 'otel-collector'],
    errors: ['ingest_failed'],
  },
  {
    id: 'registry_or_runner',
    role: 'platform_control',
    name: 'registry or runner failure',
    components: ['registry', 'gitlab-runner', 'runner', 'gitlab'],
    errors: ['registry_unavailable', 'runner_offline'],
  },
  // app_control
  {
    id: 'scheduler_stack_misconfigured',
    role: 'app_control',
    name: 'scheduler reference control stack misconfigured',
    components: ['slurm-reference', 'scheduler-stack'],
    errors: ['scheduler_config_invalid', 'controller_address_unresolvable'],
  },
  {
    id: 'control_component_unavailable',
    role: 'app_control',
    name: 'platform-app control component unavailable',
    components: ['slurmctld', 'ray-head', 'k8s-control-plane', 'slurm-reference-controller', 'controller', 'gpuaas-app-runtime-worker'],
    errors: ['controller_unavailable', 'controller_deploy_failed', 'controller_crashloop'],
  },
  {
    id: 'node_shim_or_adapter',
    role: 'app_control',
    name: 'node-shim or adapter path failure',
    components: ['node-shim', 'app-runtime-adapter'],
    errors: ['adapter_failed'],
  },
  {
    id: 'stack_port_collision',
    role: 'app_control',
    name: 'stack-local port/state collision',
    components: [],
    errors: ['address_in_use', 'port_in_use', 'state_conflict', 'state_dir_locked'],
  },
  // worker_compute
  {
    id: 'node_agent',
    role: 'worker_compute',
    name: 'node-agent offline or cert/runtime issue',
    components: ['node-agent'],
    errors: ['agent_offline', 'cert_expired', 'enrollment_rejected'],
  },
  {
    id: 'allocation_or_terminal',
    role: 'worker_compute',
    name: 'allocation runtime or SSH/terminal failure',
    components: ['allocation-runtime', 'terminal', 'sshd'],
    errors: ['allocation_failed', 'terminal_failed'],
  },
  {
    id: 'gpu_validation',
    role: 'worker_compute',
    name: 'GPU runtime validation failure',
    components: ['gpu-validation', 'dcgm', 'nvidia-smi'],
    errors: ['gpu_validation_failed', 'xid'],
  },
  {
    id: 'worker_join',
    role: 'worker_compute',
    name: 'worker cannot join or communicate with a lab-host control plane',
    components: ['slurmd', 'worker-join'],
    errors: ['join_failed', 'join_timeout'],
  },
];

/** Where a service runs when its evidence does not say (seed 000's host-role model). */
export const SERVICE_ROLES: Readonly<Record<string, HostRole>> = {
  'gpuaas-api': 'platform_control',
  'gpuaas-outbox-relay': 'platform_control',
  gitlab: 'platform_control',
  'gitlab-runner': 'platform_control',
  registry: 'platform_control',
  'gpuaas-app-runtime-worker': 'app_control',
  'node-shim': 'app_control',
  slurmctld: 'app_control',
  'ray-head': 'app_control',
  'node-agent': 'worker_compute',
  slurmd: 'worker_compute',
  'allocation-runtime': 'worker_compute',
  terminal: 'worker_compute',
};

/** Seed 000's recovery guidance for an incident whose first failing boundary is this role. */
export const RECOVERY_GUIDANCE: Readonly<Record<HostRole, readonly string[]>> = {
  platform_control: ['restore GitLab/registry/control-plane/observability baseline first'],
  app_control: ['repair or restart only the affected platform-app control stack', 'do not "fix" by moving the control-plane function onto the GPU host'],
  worker_compute: [
    'restore node-agent/runtime/worker readiness first',
    'do not debug it as a scheduler-controller incident unless the join path proves that boundary',
  ],
};

/** The class a failure on `role` is, from its component, service or error code; undefined when none says. */
export function classify(role: HostRole, evidence: { component?: string; service?: string; error?: string }): FailureClass | undefined {
  const ofRole = FAILURE_CLASSES.filter((c) => c.role === role);
  const error = evidence.error?.toLowerCase();
  const byError = error ? ofRole.find((c) => c.errors.includes(error)) : undefined;
  if (byError) return byError;
  for (const name of [evidence.component, evidence.service]) {
    const found = name ? ofRole.find((c) => c.components.includes(name.toLowerCase())) : undefined;
    if (found) return found;
  }
  return undefined;
}
