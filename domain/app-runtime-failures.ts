import type { HostRole } from './host-roles';

/**
 * The known first-slice failure modes of a slurm-reference app instance stuck in
 * `deploying` (seed 001), diagnosed from what the platform API and the hosts show.
 * Pure: the runbooks gather the observations, this decides which modes hold, in the
 * order their owning boundary must be fixed, and what fixes each.
 */
export const FAILURE_MODES = [
  'no_controller',
  'controller_dials_hostname',
  'node_api_unreachable',
  'agent_cert_expired',
  'enrollment_token_stale',
  'bootstrap_tasks_queued',
] as const;
export type FailureMode = (typeof FAILURE_MODES)[number];

export type Fix =
  'bring_up_controller' | 'upgrade_controller' | 'restore_node_api_mapping' | 'rotate_agent_certificate' | 'reenroll_agent' | 'reconcile_bootstrap_ssh';

interface ModeFacts {
  /** The seed's own words for it. */
  title: string;
  /** The host role that owns the fix: controller work on app_control, node-agent work on worker_compute. */
  boundary: HostRole;
  fix: Fix;
  /** The runbook step that applies the fix (its name in the status, the report and the page). */
  step: string;
  /** A person approves the fix first: it changes what runs on a shared control host. */
  needsApproval: boolean;
  /** The durable follow-up the page asks to track once the incident is over. */
  followUp: string;
}

export const FAILURE_MODE_FACTS: Record<FailureMode, ModeFacts> = {
  no_controller: {
    title: 'no slurm-reference-controller is deployed in the environment',
    boundary: 'app_control',
    fix: 'bring_up_controller',
    step: 'bring_up_controller',
    needsApproval: true,
    followUp: 'durable platform-control deployment wiring for slurm-reference-controller',
  },
  controller_dials_hostname: {
    title: 'the controller uses connection.hostname for SSH transport instead of connection.host',
    boundary: 'app_control',
    fix: 'upgrade_controller',
    step: 'upgrade_controller',
    needsApproval: true,
    followUp: 'SSH target semantics: host for transport, hostname for identity/display',
  },
  node_api_unreachable: {
    title: 'the bound node cannot resolve or reach the node API name',
    boundary: 'worker_compute',
    fix: 'restore_node_api_mapping',
    step: 'restore_node_api_mapping',
    needsApproval: false,
    followUp: 'node-api host mapping/bootstrap expectations for MAAS-managed nodes',
  },
  agent_cert_expired: {
    title: 'the node-agent local certificate is expired',
    boundary: 'worker_compute',
    fix: 'rotate_agent_certificate',
    step: 'rotate_agent_certificate',
    needsApproval: false,
    followUp: 'node-agent certificate/token recovery documentation',
  },
  enrollment_token_stale: {
    title: 'the node-agent enrollment token in /etc/gpuaas/node-agent.env is stale',
    boundary: 'worker_compute',
    fix: 'reenroll_agent',
    step: 'reenroll_node_agent',
    needsApproval: false,
    followUp: 'node-agent certificate/token recovery documentation',
  },
  bootstrap_tasks_queued: {
    title: 'bootstrap SSH reconcile node tasks stay queued until node-agent connectivity is restored',
    boundary: 'worker_compute',
    fix: 'reconcile_bootstrap_ssh',
    step: 'reconcile_bootstrap_ssh',
    needsApproval: false,
    followUp: 'node-agent certificate/token recovery documentation',
  },
};

/** The agent's link as its journal last told it (node-agent-journal.ts's signs). */
export type AgentJournalSign = 'name_unresolved' | 'no_route' | 'cert_expired' | 'token_invalid' | 'enrolled' | 'connected';

/** The node-agent of one worker, as its host shows it. */
export interface AgentObservations {
  running: boolean;
  nodeApiName: string;
  /** What `getent hosts <nodeApiName>` answers on the node; null: nothing. */
  resolvedTo: string | null;
  /** The control-plane address the name must resolve to (configured). */
  controlPlaneAddress: string;
  /** The certificate's notAfter; null when there is none (moved aside). */
  certNotAfter: string | null;
  journal: { sign: AgentJournalSign; line: string } | null;
}

export interface DeployObservations {
  now: string;
  controller: {
    /** `systemctl is-active slurm-reference-controller` on the app_control host. */
    running: boolean;
    /** CONTROLLER_BUILD, when the controller is installed. */
    build: string | null;
  };
  /** The first build known to dial connection.host (configured). */
  knownGoodBuild: string;
  /** The controller member's adapter_detail, when the instance has one. */
  member: { hostname: string | null; last_error: string | null } | null;
  agent: AgentObservations;
  /** Bootstrap reconcile node tasks of the bound node still queued. */
  queuedTasks: number;
}

export interface FailureFinding {
  mode: FailureMode;
  boundary: HostRole;
  fix: Fix;
  needsApproval: boolean;
  /** What showed it, for the evidence and the report. */
  evidence: string;
}

/** `1.5.0` < `1.10.0`; missing parts count as 0. */
export function compareBuilds(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((p) => Number.parseInt(p, 10) || 0);
  const pb = b.split(/[.+-]/).map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

function finding(mode: FailureMode, evidence: string): FailureFinding {
  const f = FAILURE_MODE_FACTS[mode];
  return { mode, boundary: f.boundary, fix: f.fix, needsApproval: f.needsApproval, evidence };
}

/**
 * Every failure mode that holds, owning boundary first: the controller on app_control,
 * then the node-agent's name resolution, certificate and token on worker_compute, then
 * the bootstrap tasks that wait on the agent. Fixing the first and diagnosing again is
 * how chained failures (3, then 4, then 5) come apart.
 */
export function diagnoseDeploy(o: DeployObservations): FailureFinding[] {
  return [...diagnoseController(o), ...diagnoseAgent(o.agent, o.queuedTasks, o.now)];
}

/** Failure modes 1 and 2: the controller on the app_control host. */
export function diagnoseController(o: Pick<DeployObservations, 'controller' | 'knownGoodBuild' | 'member'>): FailureFinding[] {
  if (!o.controller.running) {
    const installed = o.controller.build ? ` (build ${o.controller.build} installed)` : ' (not installed)';
    return [finding('no_controller', `slurm-reference-controller is not active on the app_control host${installed}`)];
  }
  const hostname = o.member?.hostname;
  const dialedHostname = hostname && o.member?.last_error?.includes(hostname) ? o.member.last_error : null;
  const oldBuild = o.controller.build !== null && compareBuilds(o.controller.build, o.knownGoodBuild) < 0;
  if (!dialedHostname && !oldBuild) return [];
  const evidence = [
    dialedHostname ? `controller member error: ${dialedHostname}` : '',
    oldBuild ? `controller build ${o.controller.build} is older than ${o.knownGoodBuild}, the first that dials connection.host` : '',
  ];
  return [finding('controller_dials_hostname', evidence.filter(Boolean).join('; '))];
}

/**
 * Failure modes 3 to 6: the node-agent of a worker (name resolution, certificate, token),
 * then its queued bootstrap tasks, which wait on it. `queuedTasks` 0 leaves mode 6 out.
 */
export function diagnoseAgent(a: AgentObservations, queuedTasks: number, now: string): FailureFinding[] {
  const found: FailureFinding[] = [];
  const sign = a.journal?.sign;
  if (a.resolvedTo !== a.controlPlaneAddress) {
    const said = a.journal && (sign === 'name_unresolved' || sign === 'no_route') ? `; agent: ${a.journal.line}` : '';
    found.push(
      finding('node_api_unreachable', `${a.nodeApiName} resolves to ${a.resolvedTo ?? 'nothing'} on the bound node, not ${a.controlPlaneAddress}${said}`),
    );
  }
  const expired = a.certNotAfter !== null && Date.parse(a.certNotAfter) <= Date.parse(now);
  if (expired || sign === 'cert_expired') {
    found.push(
      finding(
        'agent_cert_expired',
        `node-agent certificate notAfter ${a.certNotAfter ?? 'unknown'}${sign === 'cert_expired' ? `; agent: ${a.journal!.line}` : ''}`,
      ),
    );
  }
  if (sign === 'token_invalid') found.push(finding('enrollment_token_stale', `agent: ${a.journal!.line}`));
  if (queuedTasks > 0 && (found.length > 0 || !a.running || sign !== 'connected')) {
    found.push(finding('bootstrap_tasks_queued', `${queuedTasks} bootstrap SSH reconcile task(s) queued for the bound node; its agent is not connected`));
  }
  return found;
}
