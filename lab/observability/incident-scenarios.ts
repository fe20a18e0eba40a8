/**
 * Seed 000's incident catalogue as data: one scenario per failure class of each
 * host role, and a cross-host chain. Each scenario is what a real fleet's Loki
 * and Tempo would hold for one correlation id: the request the user made, the
 * first failing boundary, and the downstream symptoms on other roles later.
 * inject-incident.ts turns a scenario into log lines and spans; docs/lab.md
 * describes each one.
 */
import type { HostRole } from '../../domain/host-roles';

export interface ScenarioEvent {
  /** When, after the incident starts (ms). */
  after_ms: number;
  role: HostRole;
  service: string;
  level: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  component?: string;
  /** A short machine-readable cause. */
  error?: string;
  /** The event is also a span of the trace, named so; its parent is the span named here, else the trace's root. */
  span?: { name: string; parent?: string; duration_ms?: number };
  /**
   * The line comes from this host instead of the role's usual one (`worker` = the scenario's
   * GPU worker): a service running where it should not, which the boundary validation must see.
   */
  host?: 'worker';
  /** The service writes plain text, not JSON (slurmctld's own log): no fields, no correlation id, only its stream labels. */
  format?: 'text';
}

/**
 * A host state the scenario implies, for the triage's SSH boundary validation: the
 * injection starts the process on the role's host (the scenario's GPU worker), where
 * `ps` shows it until the lab is reset.
 */
export interface ImpliedHostState {
  role: HostRole;
  process: string;
  user: string;
  /** Its command line as `ps -o args` shows it. */
  args: string;
  note: string;
}

export interface IncidentScenario {
  id: string;
  /** The failure class as seed 000 names it. */
  failure_class: string;
  /** The boundary that failed first (what a correct triage classifies). */
  first_failing_role: HostRole;
  summary: string;
  /** Set on every app_control line (the platform-app stack involved). */
  app_slug?: string;
  events: ScenarioEvent[];
  host_state?: ImpliedHostState;
}

const api = (after_ms: number, msg: string, route: string, level: ScenarioEvent['level'] = 'info', error?: string): ScenarioEvent => ({
  after_ms,
  role: 'platform_control',
  service: 'gpuaas-api',
  level,
  msg,
  component: 'api',
  error,
  span: { name: route, duration_ms: 180 },
});

export const INCIDENT_SCENARIOS: readonly IncidentScenario[] = [
  // ------------------------------------------------------------------ platform_control
  {
    id: 'platform-ci-image-drift',
    failure_class: 'CI image pull/build drift',
    first_failing_role: 'platform_control',
    summary:
      'The CI image tag moved under the build; the control-plane deploy job cannot pull its base image, and a runner tagged worker-compute picked the job up on the GPU host.',
    events: [
      api(0, 'control-plane deploy requested', 'POST /api/v1/deployments'),
      {
        after_ms: 2_000,
        role: 'platform_control',
        service: 'gpuaas-outbox-relay',
        level: 'info',
        msg: 'deployment event relayed to CI',
        component: 'outbox',
        span: { name: 'relay deployment.requested', duration_ms: 90 },
      },
      {
        after_ms: 9_000,
        role: 'platform_control',
        service: 'gitlab-runner',
        level: 'error',
        msg: 'job failed: pulling image registry.dev-control-1/ci/build:2026.11: manifest unknown',
        component: 'runner',
        error: 'image_pull_failed',
        span: { name: 'ci job build-control-plane', parent: 'relay deployment.requested', duration_ms: 7_000 },
      },
      {
        after_ms: 11_000,
        role: 'worker_compute',
        service: 'gitlab-runner',
        host: 'worker',
        level: 'warn',
        msg: 'running job build-control-plane with tag worker-compute (retry of a platform-control job)',
        component: 'runner',
        error: 'ci_job_on_gpu_host',
      },
      {
        after_ms: 95_000,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'error',
        msg: 'deployment failed: build stage did not produce an image',
        component: 'deployments',
        error: 'deploy_build_failed',
      },
    ],
    host_state: {
      role: 'worker_compute',
      process: 'gitlab-runner',
      user: 'gitlab-runner',
      args: '/usr/bin/gitlab-runner run --working-directory /home/gitlab-runner --config /etc/gitlab-runner/config.toml',
      note: 'a CI runner job on the GPU worker (seed 000: no arbitrary CI workloads on the GPU host)',
    },
  },
  {
    id: 'platform-control-plane-unavailable',
    failure_class: 'control-plane stack unavailable',
    first_failing_role: 'platform_control',
    summary: "The control-plane's database is unreachable; the API answers 503 and the outbox stops relaying; workers later miss heartbeats.",
    events: [
      api(0, 'allocation create failed: database unavailable', 'POST /api/v1/allocations', 'error', 'control_plane_unavailable'),
      {
        after_ms: 400,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'error',
        msg: 'pg: dial tcp 10.176.46.10:5432: connect: connection refused',
        component: 'database',
        error: 'db_connection_refused',
        span: { name: 'pg.connect', parent: 'POST /api/v1/allocations', duration_ms: 3_000 },
      },
      {
        after_ms: 5_000,
        role: 'platform_control',
        service: 'gpuaas-outbox-relay',
        level: 'error',
        msg: 'relay loop stalled: cannot lease outbox rows',
        component: 'outbox',
        error: 'db_connection_refused',
      },
      {
        after_ms: 120_000,
        role: 'worker_compute',
        service: 'node-agent',
        level: 'warn',
        msg: 'heartbeat rejected: node-api answered 503',
        component: 'node-agent',
        error: 'heartbeat_failed',
      },
    ],
  },
  {
    id: 'platform-observability-degraded',
    failure_class: 'observability stack degraded',
    first_failing_role: 'platform_control',
    summary: 'The OTel collector drops spans (exporter queue full) and Loki rejects pushes; later evidence has gaps.',
    events: [
      api(0, 'app instance create accepted', 'POST /api/v1/app-instances'),
      {
        after_ms: 1_000,
        role: 'platform_control',
        service: 'otel-collector',
        level: 'error',
        msg: 'exporter queue is full, dropping spans',
        component: 'observability',
        error: 'exporter_queue_full',
      },
      {
        after_ms: 1_500,
        role: 'platform_control',
        service: 'loki',
        level: 'error',
        msg: 'push rejected: ingestion rate limit exceeded',
        component: 'observability',
        error: 'ingestion_rate_limited',
      },
      {
        after_ms: 4_000,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'warn',
        msg: 'trace export failed; continuing without spans',
        component: 'telemetry',
        error: 'trace_export_failed',
      },
      {
        after_ms: 60_000,
        role: 'app_control',
        service: 'slurm-reference-controller',
        level: 'warn',
        msg: 'log shipping backlog: 4213 lines buffered',
        component: 'log-shipper',
        error: 'log_backlog',
      },
    ],
  },
  {
    id: 'platform-registry-runner-failure',
    failure_class: 'registry or runner failure',
    first_failing_role: 'platform_control',
    summary: "The registry's storage is full; image pushes fail and the runner marks the release job failed.",
    events: [
      api(0, 'release pipeline triggered', 'POST /api/v1/releases'),
      {
        after_ms: 20_000,
        role: 'platform_control',
        service: 'container-registry',
        level: 'error',
        msg: 'blob upload failed: write /var/lib/registry/docker/registry/v2/blobs: no space left on device',
        component: 'registry',
        error: 'registry_storage_full',
        span: { name: 'registry PUT blob', duration_ms: 1_200 },
      },
      {
        after_ms: 21_500,
        role: 'platform_control',
        service: 'gitlab-runner',
        level: 'error',
        msg: 'job failed: pushing image: received unexpected HTTP status: 500 Internal Server Error',
        component: 'runner',
        error: 'image_push_failed',
      },
      {
        after_ms: 22_000,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'error',
        msg: 'release failed at push stage',
        component: 'releases',
        error: 'release_failed',
      },
    ],
  },
  // ------------------------------------------------------------------ app_control
  {
    id: 'app-scheduler-misconfigured',
    failure_class: 'scheduler reference control stack misconfigured',
    first_failing_role: 'app_control',
    app_slug: 'slurm-reference',
    summary: 'slurm.conf names a SlurmctldHost that does not resolve; slurmctld exits and the controller cannot reconcile; workers later cannot register.',
    events: [
      api(0, 'app instance deploy requested', 'POST /api/v1/app-instances'),
      {
        after_ms: 1_500,
        role: 'platform_control',
        service: 'gpuaas-app-runtime-worker',
        level: 'info',
        msg: 'deploy dispatched to slurm-reference controller',
        component: 'app-runtime',
        span: { name: 'dispatch deploy', duration_ms: 200 },
      },
      {
        after_ms: 3_000,
        role: 'app_control',
        service: 'slurmctld',
        level: 'fatal',
        msg: 'slurm.conf: SlurmctldHost slurm-ctl.lab.invalid does not resolve',
        component: 'slurmctld',
        error: 'scheduler_config_invalid',
        span: { name: 'slurmctld start', parent: 'dispatch deploy', duration_ms: 300 },
      },
      {
        after_ms: 3_500,
        role: 'app_control',
        service: 'slurm-reference-controller',
        level: 'error',
        msg: 'reconcile failed: slurmctld not running',
        component: 'controller',
        error: 'slurmctld_down',
      },
      {
        after_ms: 90_000,
        role: 'worker_compute',
        service: 'slurmd',
        level: 'error',
        msg: 'Unable to register: Unable to contact slurm controller (connect failure)',
        component: 'slurmd',
        error: 'controller_unreachable',
      },
    ],
  },
  {
    id: 'app-control-component-unavailable',
    failure_class: 'platform-app control component unavailable',
    first_failing_role: 'app_control',
    app_slug: 'slurm-reference',
    summary: 'The slurm-reference controller crash-loops; members stay deploying, and someone started slurmctld on the GPU worker to work around it.',
    events: [
      api(0, 'app instance deploy requested', 'POST /api/v1/app-instances'),
      {
        after_ms: 2_000,
        role: 'app_control',
        service: 'slurm-reference-controller',
        level: 'fatal',
        msg: 'panic: nil platform client (exit status 2)',
        component: 'controller',
        error: 'controller_crashloop',
        span: { name: 'controller reconcile', duration_ms: 50 },
      },
      {
        after_ms: 30_000,
        role: 'platform_control',
        service: 'gpuaas-app-runtime-worker',
        level: 'warn',
        msg: 'controller heartbeat stale for 30s; members held in deploying',
        component: 'app-runtime',
        error: 'controller_heartbeat_stale',
      },
      {
        after_ms: 600_000,
        role: 'worker_compute',
        service: 'slurmctld',
        host: 'worker',
        level: 'info',
        msg: 'slurmctld version 23.11.4 started on cluster lab',
        component: 'slurmctld',
        error: 'control_component_on_gpu_host',
      },
    ],
    host_state: {
      role: 'worker_compute',
      process: 'slurmctld',
      user: 'slurm',
      args: '/usr/sbin/slurmctld -D -f /etc/slurm/slurm.conf',
      note: 'a platform-app control component on the GPU worker (seed 000: control components belong on dev-lab-1)',
    },
  },
  {
    id: 'app-node-shim-adapter-failure',
    failure_class: 'node-shim or adapter path failure',
    first_failing_role: 'app_control',
    app_slug: 'slurm-reference',
    summary: "The node-shim's Slurm adapter rejects the job translation; the allocation never reaches the worker.",
    events: [
      api(0, 'job submission accepted', 'POST /api/v1/jobs'),
      {
        after_ms: 800,
        role: 'platform_control',
        service: 'gpuaas-outbox-relay',
        level: 'info',
        msg: 'job.submitted relayed',
        component: 'outbox',
        span: { name: 'relay job.submitted', duration_ms: 60 },
      },
      {
        after_ms: 1_200,
        role: 'app_control',
        service: 'node-shim',
        level: 'error',
        msg: 'adapter slurm: translating job spec: unknown gres "gpu:h100"',
        component: 'adapter',
        error: 'adapter_translation_failed',
        span: { name: 'adapter.submit', parent: 'relay job.submitted', duration_ms: 40 },
      },
      {
        after_ms: 45_000,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'warn',
        msg: 'job stuck in pending: no adapter acknowledgement',
        component: 'jobs',
        error: 'job_pending_timeout',
      },
    ],
  },
  {
    id: 'app-port-state-collision',
    failure_class: 'stack-local port/state collision',
    first_failing_role: 'app_control',
    app_slug: 'slurm-reference',
    summary: "A second reference stack on dev-lab-1 holds slurmctld's port and state directory.",
    events: [
      api(0, 'app instance deploy requested', 'POST /api/v1/app-instances'),
      {
        after_ms: 2_500,
        role: 'app_control',
        service: 'slurmctld',
        level: 'error',
        msg: 'error: Error binding slurm stream socket: Address already in use (port 6817)',
        component: 'slurmctld',
        error: 'port_in_use',
        span: { name: 'slurmctld start', duration_ms: 100 },
      },
      {
        after_ms: 2_550,
        role: 'app_control',
        service: 'slurmctld',
        format: 'text',
        level: 'error',
        msg: 'error: Unable to bind listen port (6817): Address already in use',
      },
      {
        after_ms: 2_600,
        role: 'app_control',
        service: 'slurmctld',
        level: 'fatal',
        msg: 'StateSaveLocation /var/spool/slurmctld is locked by another slurmctld',
        component: 'slurmctld',
        error: 'state_dir_locked',
      },
      {
        after_ms: 3_000,
        role: 'app_control',
        service: 'slurm-reference-controller',
        level: 'error',
        msg: 'deploy failed: slurmctld exited',
        component: 'controller',
        error: 'slurmctld_down',
      },
    ],
  },
  // ------------------------------------------------------------------ worker_compute
  {
    id: 'worker-node-agent-cert',
    failure_class: 'node-agent offline or cert/runtime issue',
    first_failing_role: 'worker_compute',
    summary: "The node-agent's client certificate expired; it cannot reconnect and the platform marks the node offline.",
    events: [
      api(0, 'allocation create requested', 'POST /api/v1/allocations'),
      {
        after_ms: 1_000,
        role: 'worker_compute',
        service: 'node-agent',
        level: 'error',
        msg: 'tls: failed to verify certificate: x509: certificate has expired',
        component: 'node-agent',
        error: 'cert_expired',
        span: { name: 'node-agent connect', duration_ms: 250 },
      },
      {
        after_ms: 61_000,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'warn',
        msg: 'node offline: no heartbeat for 60s',
        component: 'nodes',
        error: 'node_offline',
      },
    ],
  },
  {
    id: 'worker-terminal-failure',
    failure_class: 'allocation runtime or SSH/terminal failure',
    first_failing_role: 'worker_compute',
    summary: "The allocation's terminal session fails: the runtime cannot start the session container.",
    events: [
      api(0, 'terminal session requested', 'POST /api/v1/allocations/terminal'),
      {
        after_ms: 700,
        role: 'worker_compute',
        service: 'gpuaas-allocation-runtime',
        level: 'error',
        msg: 'starting session container: OCI runtime create failed: cgroup limit exceeded',
        component: 'allocation-runtime',
        error: 'runtime_start_failed',
        span: { name: 'runtime.start_session', duration_ms: 900 },
      },
      {
        after_ms: 1_800,
        role: 'worker_compute',
        service: 'gpuaas-terminal',
        level: 'error',
        msg: 'ssh: handshake failed: EOF',
        component: 'terminal',
        error: 'terminal_handshake_failed',
      },
      {
        after_ms: 2_000,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'error',
        msg: 'terminal session failed',
        component: 'terminal',
        error: 'terminal_failed',
      },
    ],
  },
  {
    id: 'worker-gpu-validation-failure',
    failure_class: 'GPU runtime validation failure',
    first_failing_role: 'worker_compute',
    summary: 'GPU validation fails on the worker (dcgmi diag level 2 fails GPU 3); the node is held out of service.',
    events: [
      api(0, 'node validation requested', 'POST /api/v1/nodes/validate'),
      {
        after_ms: 240_000,
        role: 'worker_compute',
        service: 'node-agent',
        level: 'error',
        msg: 'gpu validation failed: dcgmi diag -r 2: GPU 3 memory test failed',
        component: 'gpu-validation',
        error: 'gpu_validation_failed',
        span: { name: 'gpu.validate', duration_ms: 238_000 },
      },
      {
        after_ms: 241_000,
        role: 'platform_control',
        service: 'gpuaas-api',
        level: 'warn',
        msg: 'node held: validation failed',
        component: 'nodes',
        error: 'node_validation_failed',
      },
    ],
  },
  {
    id: 'worker-join-failure',
    failure_class: 'worker cannot join or communicate with a lab-host control plane',
    first_failing_role: 'worker_compute',
    app_slug: 'slurm-reference',
    summary: "The worker's slurmd cannot reach slurmctld on dev-lab-1 (its route to the lab host is missing); the controller later times out the join.",
    events: [
      api(0, 'worker add requested', 'POST /api/v1/app-instances/members'),
      {
        after_ms: 5_000,
        role: 'worker_compute',
        service: 'slurmd',
        level: 'error',
        msg: 'Unable to contact slurm controller (connect failure): No route to host',
        component: 'slurmd',
        error: 'controller_unreachable',
        span: { name: 'slurmd register', duration_ms: 3_000 },
      },
      {
        after_ms: 6_000,
        role: 'worker_compute',
        service: 'node-agent',
        level: 'warn',
        msg: 'join task failed: slurmd not registered',
        component: 'node-agent',
        error: 'join_failed',
      },
      {
        after_ms: 300_000,
        role: 'app_control',
        service: 'slurm-reference-controller',
        level: 'error',
        msg: 'member join timed out after 300s',
        component: 'controller',
        error: 'member_join_timeout',
      },
    ],
  },
  // ------------------------------------------------------------------ cross-host chain
  {
    id: 'chain-registry-controller-worker',
    failure_class: 'registry or runner failure',
    first_failing_role: 'platform_control',
    app_slug: 'slurm-reference',
    summary: 'A registry failure on dev-control-1 breaks the controller deploy on dev-lab-1, which stalls the worker join on dev-gpu-1.',
    events: [
      api(0, 'app instance deploy requested', 'POST /api/v1/app-instances'),
      {
        after_ms: 1_000,
        role: 'platform_control',
        service: 'gpuaas-outbox-relay',
        level: 'info',
        msg: 'app_instance.deploy relayed',
        component: 'outbox',
        span: { name: 'relay app_instance.deploy', duration_ms: 80 },
      },
      {
        after_ms: 1_500,
        role: 'platform_control',
        service: 'gpuaas-app-runtime-worker',
        level: 'info',
        msg: 'deploy dispatched to slurm-reference controller',
        component: 'app-runtime',
        span: { name: 'dispatch deploy', parent: 'relay app_instance.deploy', duration_ms: 45_000 },
      },
      {
        after_ms: 4_000,
        role: 'platform_control',
        service: 'container-registry',
        level: 'error',
        msg: 'manifest GET slurm-reference/controller:1.6.0: 503 backend storage unavailable',
        component: 'registry',
        error: 'registry_unavailable',
        span: { name: 'registry GET manifest', parent: 'dispatch deploy', duration_ms: 400 },
      },
      {
        after_ms: 40_000,
        role: 'app_control',
        service: 'slurm-reference-controller',
        level: 'error',
        msg: 'controller deploy failed: pulling slurm-reference/controller:1.6.0: 503 Service Unavailable',
        component: 'controller',
        error: 'image_pull_failed',
        span: { name: 'controller deploy', parent: 'dispatch deploy', duration_ms: 36_000 },
      },
      {
        after_ms: 180_000,
        role: 'worker_compute',
        service: 'node-agent',
        level: 'warn',
        msg: 'join stalled: controller not ready after 120s',
        component: 'node-agent',
        error: 'join_stalled',
      },
      {
        after_ms: 181_000,
        role: 'worker_compute',
        service: 'slurmd',
        level: 'error',
        msg: 'Unable to contact slurm controller (connect failure)',
        component: 'slurmd',
        error: 'controller_unreachable',
      },
    ],
  },
];

/** What a variant leaves out of the evidence (seed 000's escalation rule: that is an observability gap). */
export const EVIDENCE_GAPS = ['host_role', 'correlation_id'] as const;
export type EvidenceGap = (typeof EVIDENCE_GAPS)[number];

export function findScenario(id: string): IncidentScenario | undefined {
  return INCIDENT_SCENARIOS.find((s) => s.id === id);
}
