/** A client for the lab's fault-injection and record endpoints (/lab/v1), for tests, drills and scripts. */
import type { EvidenceGap } from './observability/incident-scenarios';
import type { InjectedIncident } from './observability/inject-incident';

export type { InjectedIncident } from './observability/inject-incident';

/** One of seed 000's incidents (docs/lab.md lists the scenarios); ids are generated when not given. */
export interface IncidentRequest {
  scenario: string;
  correlation_id?: string;
  /** 32 lowercase hex characters. */
  trace_id?: string;
  started_at?: string;
  omit?: EvidenceGap[];
  noise_lines?: number;
  worker_node_id?: string;
}
import { ON_CALL_WEBHOOK_PATH, type OnCallNotification } from './on-call';

export interface LabRecords {
  commands: { seq: number; node_id: string; host_name: string; command: string; exit_code: number | null; at: string }[];
  mutations: { seq: number; node_id: string; kind: string; idempotency_key?: string; applied: boolean; at: string; detail?: Record<string, unknown> }[];
  /** Every process a host ran: exec'd programs and the main processes of transient units. */
  processes: {
    seq: number;
    node_id: string;
    pid: number;
    /** The real program's argv joined by spaces, e.g. "dcgmi diag -r 3 -j". */
    command: string;
    /** "NAME.service" for a unit's main process, null for a plain exec. */
    unit: string | null;
    started_at: string;
    ended_at: string | null;
    exit_code: number | null;
    killed: boolean;
  }[];
}

export type RecoveryAction = 'none' | 'gpu_reset' | 'node_reboot' | 'drain_p2p' | 'drain_and_reset';

export interface XidInjected {
  node_id: string;
  gpu_index: number;
  xid: number;
  persistent: boolean;
  recovery_action: RecoveryAction | null;
  /** The Xid line as `journalctl -o short-iso-precise` prints it. */
  kernel_line: string;
  /** The Xid line and, with a recovery action, the Xid 154 line after it. */
  kernel_lines: string[];
}

/** Seed 001's failure modes (the lab's /lab/v1/app-runtime faults); node_id defaults to dev-gpu-1. */
export type AppRuntimeFault =
  | { fault: 'no_controller'; mode?: 'not_installed' | 'stopped' }
  | { fault: 'hostname_build'; build?: '1.4.0' | '1.4.2' }
  | { fault: 'node_api_unreachable'; node_id?: string; mode?: 'no_route' | 'no_such_host' }
  | { fault: 'agent_cert_expired'; node_id?: string; not_after?: string }
  | { fault: 'stale_enrollment_token'; node_id?: string }
  | { fault: 'agent_stopped'; node_id?: string };

export interface DeployingInstance {
  instance: {
    id: string;
    project_id: string;
    app_slug: string;
    name: string;
    status: string;
    controller_allocation_id: string;
    created_at: string;
    updated_at: string;
  };
  allocation: { id: string; node_id: string; state: string; bound: boolean; ssh_user: string };
  members: { id: string; role: string; node_id: string; allocation_id: string; state: string; adapter_detail: Record<string, unknown> }[];
  faults: Record<string, unknown>[];
}

export class LabAdmin {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  reset() {
    return this.post('/lab/v1/reset', {});
  }
  injectXid(nodeId: string, gpuIndex: number, xid: number, persistent = false, opts: { recoveryAction?: RecoveryAction } = {}): Promise<XidInjected> {
    const body = { gpu_index: gpuIndex, xid, persistent, ...(opts.recoveryAction ? { recovery_action: opts.recoveryAction } : {}) };
    return this.post(`/lab/v1/hosts/${nodeId}/faults/xid`, body) as Promise<XidInjected>;
  }
  failDiag(nodeId: string, gpuIndex: number) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/diag-fail`, { gpu_index: gpuIndex });
  }
  stickDrain(nodeId: string) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/stuck-drain`, {});
  }
  /** A stray process keeps the GPU open: `nvidia-smi -r` on it is refused until the host reboots. */
  holdGpu(nodeId: string, gpuIndex: number, name?: string): Promise<{ node_id: string; gpu_index: number; pid: number; name: string }> {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/gpu-process`, { gpu_index: gpuIndex, ...(name ? { name } : {}) }) as Promise<{
      node_id: string;
      gpu_index: number;
      pid: number;
      name: string;
    }>;
  }
  /** Every later diag leaves the GPU out of its report, as DCGM does for a GPU it cannot see. */
  omitGpuFromDiag(nodeId: string, gpuIndex: number) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/diag-omit-gpu`, { gpu_index: gpuIndex });
  }
  /** The next `count` commands whose argv starts with `commandPrefix` lose their SSH connection right after starting. */
  dropConnection(nodeId: string, commandPrefix: string, count = 1) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/drop-connection`, { command_prefix: commandPrefix, count });
  }
  /** nv-hostengine stops: every later `dcgmi diag` fails to connect (exit 250) until the lab reset. */
  stopHostEngine(nodeId: string) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/dcgm-down`, {});
  }
  /** The next driver package install on the host fails in dkms's module build. */
  failDriverInstall(nodeId: string) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/driver-install-fails`, {});
  }
  /** Running `driverVersion`, the host's GPU 0 fails dcgmi diag (a driver regression). */
  driverFailsDiag(nodeId: string, driverVersion: string) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/driver-fails-diag`, { driver_version: driverVersion });
  }
  /** The host's next reboot never finishes: it stays down until the lab reset. */
  hangNextBoot(nodeId: string) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/boot-hang`, {});
  }
  /** Appends about `bytes` of ordinary (non-NVRM) kernel lines to the current boot's log. */
  kernelNoise(nodeId: string, bytes: number): Promise<{ node_id: string; lines: number; bytes: number; kernel_log_lines: number }> {
    return this.post(`/lab/v1/hosts/${nodeId}/kernel-noise`, { bytes }) as Promise<{ node_id: string; lines: number; bytes: number; kernel_log_lines: number }>;
  }
  // -- platform-app runtime (seed 001) -----------------------------------------------------------

  /** Applies several app-runtime faults in order (a chain such as node_api_unreachable → agent_cert_expired → stale_enrollment_token). */
  appFaults(faults: AppRuntimeFault[]): Promise<{ applied: Record<string, unknown>[] }> {
    return this.post('/lab/v1/app-runtime/faults', { faults }) as Promise<{ applied: Record<string, unknown>[] }>;
  }
  /** No slurm-reference-controller in the environment: not installed (default) or installed but stopped. */
  noController(mode?: 'not_installed' | 'stopped') {
    return this.appFaults([{ fault: 'no_controller', ...(mode ? { mode } : {}) }]);
  }
  /** The controller runs a build that dials connection.hostname (the MAAS name) instead of connection.host. */
  hostnameBuild(build?: '1.4.0' | '1.4.2') {
    return this.appFaults([{ fault: 'hostname_build', ...(build ? { build } : {}) }]);
  }
  /** The node's hosts entry for the node API is gone; DNS answers an unroutable address (no_route) or nothing (no_such_host). */
  nodeApiUnreachable(nodeId = 'dev-gpu-1', mode?: 'no_route' | 'no_such_host') {
    return this.appFaults([{ fault: 'node_api_unreachable', node_id: nodeId, ...(mode ? { mode } : {}) }]);
  }
  /** The node-agent's certificate expired (at `notAfter`, default yesterday 10:00 UTC). */
  agentCertExpired(nodeId = 'dev-gpu-1', notAfter?: string) {
    return this.appFaults([{ fault: 'agent_cert_expired', node_id: nodeId, ...(notAfter ? { not_after: notAfter } : {}) }]);
  }
  /** The token in /etc/gpuaas/node-agent.env was superseded; alone, the agent's identity is gone so it must enroll (401). */
  staleEnrollmentToken(nodeId = 'dev-gpu-1') {
    return this.appFaults([{ fault: 'stale_enrollment_token', node_id: nodeId }]);
  }
  /** gpuaas-node-agent stopped: node tasks for the node stay queued. */
  stopNodeAgent(nodeId = 'dev-gpu-1') {
    return this.appFaults([{ fault: 'agent_stopped', node_id: nodeId }]);
  }
  /** A slurm-reference instance in `deploying`, its controller allocation bound, with `faults` applied first. */
  createDeployingInstance(opts: { projectId?: string; name?: string; controllerNodeId?: string; faults?: AppRuntimeFault[] } = {}): Promise<DeployingInstance> {
    return this.post('/lab/v1/app-runtime/instances', {
      ...(opts.projectId ? { project_id: opts.projectId } : {}),
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.controllerNodeId ? { controller_node_id: opts.controllerNodeId } : {}),
      faults: opts.faults ?? [],
    }) as Promise<DeployingInstance>;
  }
  async appRuntimeState(): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/lab/v1/app-runtime/state`, { headers: this.auth() });
    if (!res.ok) throw new Error(`lab app-runtime state: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  }

  async records(nodeId?: string): Promise<LabRecords> {
    const res = await fetch(`${this.baseUrl}/lab/v1/records${nodeId ? `?node_id=${nodeId}` : ''}`, { headers: this.auth() });
    if (!res.ok) throw new Error(`lab records: ${res.status} ${await res.text()}`);
    return (await res.json()) as LabRecords;
  }
  async hostState(nodeId: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/lab/v1/hosts/${nodeId}/state`, { headers: this.auth() });
    return (await res.json()) as Record<string, unknown>;
  }
  /** Mutations of one kind that really took effect (idempotent replays excluded). */
  async applied(nodeId: string, kind: string): Promise<number> {
    const r = await this.records(nodeId);
    return r.mutations.filter((m) => m.kind === kind && m.applied).length;
  }
  /** Processes of one program that ran to the end (not killed), e.g. "dcgmi diag". */
  async completedProcesses(nodeId: string, commandPrefix: string): Promise<number> {
    const r = await this.records(nodeId);
    return r.processes.filter((p) => p.command.startsWith(commandPrefix) && p.ended_at !== null && !p.killed).length;
  }
  /** POST /lab/v1/orchestrator/faults/<name> (the lab runs the orchestrator): what was applied. */
  async orchestratorFault(name: string, body: object = {}): Promise<Record<string, unknown>> {
    return ((await this.post(`/lab/v1/orchestrator/faults/${name}`, body)) as { applied: Record<string, unknown> }).applied;
  }

  /** Adds jobs to the orchestrator's stream as a producer would: ids `<prefix>-1` ... */
  async orchestratorJobs(count: number, model: string, prefix: string): Promise<{ job_id: string; stream_id: string }[]> {
    return ((await this.post('/lab/v1/orchestrator/jobs', { count, model, prefix })) as { jobs: { job_id: string; stream_id: string }[] }).jobs;
  }

  /** The orchestrator's whole state: replicas, pools with their worker PIDs and memory, counters. */
  async orchestratorState(): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/lab/v1/orchestrator/state`, { headers: this.auth() });
    if (!res.ok) throw new Error(`lab orchestrator state: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  }

  /** Writes one incident into the lab's Loki and Tempo (POST /lab/v1/observability/incidents). */
  async injectIncident(req: IncidentRequest): Promise<InjectedIncident> {
    return (await this.post('/lab/v1/observability/incidents', req)) as InjectedIncident;
  }

  /** What the lab's on-call pager received from Alertmanager, oldest first (Alertmanager's webhook bodies). */
  async onCallNotifications(): Promise<OnCallNotification[]> {
    const res = await fetch(`${this.baseUrl}${ON_CALL_WEBHOOK_PATH}`, { headers: this.auth() });
    if (!res.ok) throw new Error(`lab on-call notifications: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { notifications: OnCallNotification[] }).notifications;
  }

  /** The on-call pager's service down (every notification answered 503) or back. */
  async onCallOutage(down: boolean): Promise<void> {
    await this.post('/lab/v1/on-call/outage', { down });
  }

  private auth(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.auth() },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`lab ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }
}
