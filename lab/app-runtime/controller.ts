/**
 * slurm-reference-controller on the app_control host: the app-runtime adapter
 * that turns a deploying slurm-reference instance into a Slurm cluster. Every
 * reconcile pass it reports in to the platform, makes sure slurmctld is up,
 * and for each member: SSH to the member's node (as the allocation user, with
 * the instance's managed key, which only the node-agent installs), add the node
 * to slurm.conf, start slurmd, wait for it to register. Builds before 1.5.0 dial
 * connection.hostname (the MAAS name, unresolvable here) instead of
 * connection.host. The build is read from its EnvironmentFile at start.
 */
import type { AppHost } from './app-host';
import { ALLOCATION_BIND_MS, type AppInstance, type AppPlatform, type Member, type MemberOperation } from './app-platform';
import { buildCommit, buildPrefersHost, PATHS, reachable, SLURM_VERSION, UNITS } from './fleet';
import { parseEnvFile } from './host-files';
import { logfmt } from './logfmt';
import { resolveName, type LabDns } from './resolver';
import type { Scheduler } from './scheduler';
import type { ServiceLogWriter } from '../observability';
import type { ProcessContext, ServiceProcess } from './service-units';
import type { SlurmCluster } from './slurm-cluster';

/** Real durations, in ms. */
export const CONTROLLER_TIMINGS = {
  reconcileInterval: 10_000,
  firstPass: 1_000,
  /** A worker_add fails when the managed key has not reached the node by then. */
  bootstrapTimeout: 300_000,
  /** A worker_add fails when slurmd has not registered this long after it was started. */
  registerTimeout: 120_000,
  /** Consecutive SSH transport failures (resolve, connect) before an operation fails. */
  transportAttempts: 3,
} as const;

export interface ControllerDeps {
  host: AppHost;
  platform: AppPlatform;
  slurm: SlurmCluster;
  dns: LabDns;
  scheduler: Scheduler;
  hostOf(nodeId: string): AppHost | undefined;
  /** Creates an allocation.reconcile_managed_authorized_key task for the allocation's node. */
  requestKeyReconcile(instanceId: string, allocationId: string): { id: string };
  /** The lab's central logs (Loki): each journal line is shipped there too, as JSON. */
  logs?: ServiceLogWriter;
}

type Step = { kind: 'ready' } | { kind: 'waiting' } | { kind: 'error'; category: 'resolve' | 'connect' | 'auth'; error: string };

interface Progress {
  claimed: boolean;
  transportFailures: number;
  lastError: string | null;
  errorLoggedAt: number;
  bootstrapTaskId: string | null;
  slurmdStartedAt: number | null;
  startedAt: number;
}

export class ControllerDaemon {
  private ctx: ProcessContext | null = null;
  private build = '';
  private ctldAnnounced = false;
  private progress = new Map<string, Progress>();

  constructor(private readonly deps: ControllerDeps) {}

  /** The build the running process was started with; null when it is not running. */
  get runningBuild(): string | null {
    return this.ctx ? this.build : null;
  }

  process(): ServiceProcess {
    return {
      run: (ctx) => this.run(ctx),
      stopping: () => this.log('info', 'received signal, shutting down', { signal: 'terminated' }),
      ended: () => {
        this.ctx = null;
        this.progress.clear();
        this.ctldAnnounced = false;
      },
    };
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, string | number> = {}): void {
    if (!this.ctx) return;
    this.ctx.log(logfmt(level, msg, fields));
    this.deps.logs?.({ ...fields, level, msg, component: 'controller', app_slug: 'slurm-reference' });
  }

  private run(ctx: ProcessContext): void {
    this.ctx = ctx;
    this.progress.clear();
    this.ctldAnnounced = false;
    const env = parseEnvFile(this.deps.host.files.read(PATHS.controllerEnv) ?? '');
    this.build = env.get('CONTROLLER_BUILD') ?? '';
    if (!this.build) {
      ctx.log('level=error msg="invalid configuration" err="CONTROLLER_BUILD is not set"');
      ctx.after(20, () => ctx.exit(1));
      return;
    }
    if (!ctx.resumed) {
      const transport = buildPrefersHost(this.build) ? 'connection.host' : 'connection.hostname';
      this.log('info', 'slurm-reference-controller starting', { build: this.build, commit: buildCommit(this.build), ssh_transport: transport });
      this.log('info', 'watching app instances', { app_slug: 'slurm-reference', platform: env.get('PLATFORM_API_URL') ?? '' });
    } else {
      this.ctldAnnounced = this.deps.slurm.ctldRunning();
    }
    this.deps.platform.controllerSeenAt = new Date();
    ctx.after(CONTROLLER_TIMINGS.firstPass, () => this.pass());
  }

  private pass(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const started = Date.now();
    const { platform } = this.deps;
    platform.controllerSeenAt = new Date();
    let pending = 0;
    const instances = platform.listInstances().filter((i) => i.app_slug === 'slurm-reference' && i.status !== 'failed');
    for (const inst of instances) {
      if (inst.status === 'deploying') this.deploy(inst);
      else this.maintain(inst);
      pending += platform.listOperations(inst.id).filter((o) => o.state === 'accepted' || o.state === 'running').length;
    }
    this.log('info', 'reconcile pass', { instances: instances.length, pending_ops: pending, duration_ms: Date.now() - started + 3 });
    ctx.after(CONTROLLER_TIMINGS.reconcileInterval, () => this.pass());
  }

  private progressOf(key: string): Progress {
    let p = this.progress.get(key);
    if (!p) {
      p = { claimed: false, transportFailures: 0, lastError: null, errorLoggedAt: 0, bootstrapTaskId: null, slurmdStartedAt: null, startedAt: Date.now() };
      this.progress.set(key, p);
    }
    return p;
  }

  private deploy(inst: AppInstance): void {
    const { platform } = this.deps;
    const member = platform.listMembers(inst.id).find((m) => m.role === 'controller');
    if (!member) return;
    const allocation = platform.allocation(member.allocation_id);
    if (!allocation || allocation.state !== 'active') {
      platform.updateMember(member, { detail: { phase: 'waiting_for_allocation' } });
      return;
    }
    if (!this.ensureSlurmctld(member)) return;
    const step = this.reconcileMember(inst, member, this.progressOf(member.id));
    if (step.kind === 'ready') {
      platform.setStatus(inst.id, 'running');
      this.log('info', 'app instance running', { app_instance_id: inst.id, name: inst.name });
    }
  }

  /** A running instance: keep member reports current, heal members whose slurmd went away, run member operations. */
  private maintain(inst: AppInstance): void {
    const { platform, slurm } = this.deps;
    const ctld = slurm.ctldRunning();
    for (const m of platform.listMembers(inst.id)) {
      if (m.state !== 'ready') continue;
      const slurmd = slurm.slurmdState(m.node_id);
      platform.updateMember(m, { detail: { slurmctld_state: ctld ? 'up' : 'down', slurmd_state: slurmd } });
      if (slurmd !== 'idle') {
        platform.updateMember(m, { state: 'reconciling', detail: { phase: 'starting_slurmd' } });
        this.progress.delete(m.id);
      }
    }
    for (const m of platform.listMembers(inst.id)) {
      if (
        m.state === 'reconciling' &&
        !platform.listOperations(inst.id).some((o) => o.member_id === m.id && (o.state === 'running' || o.state === 'accepted'))
      ) {
        if (this.ensureSlurmctld(m)) this.reconcileMember(inst, m, this.progressOf(m.id));
      }
    }
    const op = platform.listOperations(inst.id).find((o) => o.state === 'accepted' || o.state === 'running');
    if (op) this.operate(inst, op);
  }

  private ensureSlurmctld(member: Member): boolean {
    const { slurm, host, platform } = this.deps;
    if (slurm.ctldRunning()) {
      if (!this.ctldAnnounced) {
        this.ctldAnnounced = true;
        this.log('info', 'slurmctld up', { host: host.hostname, port: 6817, version: SLURM_VERSION });
      }
      return true;
    }
    this.ctldAnnounced = false;
    const unit = host.unit(UNITS.slurmctld);
    this.log('warn', 'slurmctld not running; starting it', { unit: UNITS.slurmctld });
    unit?.start();
    platform.updateMember(member, { detail: { slurmctld_state: 'starting' } });
    return false;
  }

  /** One step of bringing a member to slurm_ready. */
  private reconcileMember(inst: AppInstance, member: Member, p: Progress): Step {
    const { platform, slurm, dns, host } = this.deps;
    const node = this.deps.hostOf(member.node_id);
    const d = member.adapter_detail;
    if (!node) return this.failStep(member, p, 'connect', `unknown node ${member.node_id}`);
    if (!p.claimed) {
      p.claimed = true;
      const what = member.role === 'controller' ? 'deploying controller member' : 'adding worker member';
      this.log('info', what, { app_instance_id: inst.id, member_id: member.id, node_id: member.node_id, host: d.host, hostname: d.hostname });
      platform.updateMember(member, { detail: { phase: 'bootstrapping_ssh' } });
    }
    const target = buildPrefersHost(this.build) ? d.host : d.hostname;
    const resolved = resolveName(host.files, dns, target);
    if (!resolved) return this.failStep(member, p, 'resolve', `ssh: Could not resolve hostname ${target}: Name or service not known`);
    if (node.down) return this.failStep(member, p, 'connect', `ssh: connect to host ${target} port 22: Connection timed out`);
    if (!reachable(false, resolved.ip)) return this.failStep(member, p, 'connect', `ssh: connect to host ${target} port 22: No route to host`);
    p.transportFailures = 0;

    const allocation = platform.allocation(member.allocation_id);
    const key = platform.managedKey(inst.id) ?? '';
    const user = allocation?.ssh_user ?? 'gpuaas';
    const authorized = (node.files.read(`/home/${user}/.ssh/authorized_keys`) ?? '').split('\n').some((l) => l.trim() === key);
    if (!authorized) {
      const task = p.bootstrapTaskId ? platform.task(p.bootstrapTaskId) : undefined;
      if (!task || task.state === 'failed' || task.state === 'completed') {
        const created = this.deps.requestKeyReconcile(inst.id, member.allocation_id);
        p.bootstrapTaskId = created.id;
        this.log('info', 'requested bootstrap ssh reconcile', { app_instance_id: inst.id, node_id: member.node_id, node_task_id: created.id });
      }
      return this.failStep(member, p, 'auth', `${user}@${target}: Permission denied (publickey).`);
    }

    const slurmNode = slurm.nodeOf(member.node_id);
    if (!slurmNode) {
      const added = slurm.configure(node);
      this.log('info', 'node added to slurm.conf', { node: added.name, addr: added.addr });
    }
    const slurmd = node.unit(UNITS.slurmd);
    const n = slurm.nodeOf(member.node_id);
    if (!slurmd?.running) {
      if (slurmd) {
        slurmd.enabled = true;
        slurmd.start();
      }
      p.slurmdStartedAt = Date.now();
      this.log('info', 'starting slurmd', { node: n?.name ?? d.hostname, host: d.host });
      platform.updateMember(member, { detail: { phase: 'starting_slurmd', slurmd_state: 'starting', slurmctld_state: 'up', last_error: null } });
      p.lastError = null;
      return { kind: 'waiting' };
    }
    if (!n?.responding) {
      platform.updateMember(member, {
        detail: { phase: 'waiting_for_slurmd_registration', slurmd_state: 'starting', slurmctld_state: 'up', last_error: null },
      });
      return { kind: 'waiting' };
    }
    platform.updateMember(member, {
      state: 'ready',
      detail: { phase: 'slurm_ready', slurmctld_state: 'up', slurmd_state: slurm.slurmdState(member.node_id), last_error: null },
    });
    p.lastError = null;
    this.log('info', 'member ready', { app_instance_id: inst.id, member_id: member.id, node: n.name, phase: 'slurm_ready' });
    return { kind: 'ready' };
  }

  private failStep(member: Member, p: Progress, category: 'resolve' | 'connect' | 'auth', error: string): Step {
    if (category !== 'auth') p.transportFailures++;
    const now = Date.now();
    // Logged when it changes and about once a minute while it lasts, like a retrying reconciler.
    if (p.lastError !== error || now - p.errorLoggedAt >= this.deps.scheduler.scaled(60_000)) {
      this.log('error', 'bootstrap ssh failed', { member_id: member.id, node_id: member.node_id, err: error });
      p.errorLoggedAt = now;
    }
    p.lastError = error;
    this.deps.platform.updateMember(member, { detail: { phase: 'bootstrapping_ssh', last_error: error } });
    return { kind: 'error', category, error };
  }

  // -- member operations -----------------------------------------------------------------------

  private operate(inst: AppInstance, op: MemberOperation): void {
    const { platform } = this.deps;
    const p = this.progressOf(op.id);
    if (op.state === 'accepted') {
      platform.setOperation(op, 'running');
      p.startedAt = Date.now();
      this.log('info', 'member operation started', { op_id: op.id, kind: op.kind, node_id: op.node_id });
      if (op.kind === 'worker_add') {
        const node = this.deps.hostOf(op.node_id);
        const allocation = platform.newAllocation(op.node_id, inst.project_id, inst.id, 'worker');
        const member = platform.newMember(inst.id, 'worker', op.node_id, allocation.id, {
          host: node?.identity.address ?? '',
          hostname: node?.identity.maasHostname ?? op.node_id,
        });
        platform.addMember(member);
        op.member_id = member.id;
        this.deps.scheduler.after(ALLOCATION_BIND_MS, () => platform.bind(allocation.id));
        return;
      }
    }
    if (op.kind === 'worker_add') this.workerAdd(inst, op, p);
    else this.workerRemove(inst, op, p);
  }

  private workerAdd(inst: AppInstance, op: MemberOperation, p: Progress): void {
    const { platform, scheduler } = this.deps;
    const member = op.member_id ? platform.member(inst.id, op.member_id) : undefined;
    if (!member) return this.finish(op, 'member disappeared while the operation ran');
    const allocation = platform.allocation(member.allocation_id);
    if (!allocation || allocation.state !== 'active') return;
    if (!this.ensureSlurmctld(member)) return;
    const mp = this.progressOf(member.id);
    const step = this.reconcileMember(inst, member, mp);
    const now = Date.now();
    if (step.kind === 'ready') return this.finish(op, null);
    if (step.kind === 'error') {
      if (step.category !== 'auth' && mp.transportFailures >= CONTROLLER_TIMINGS.transportAttempts) return this.finish(op, step.error, member);
      if (step.category === 'auth' && now - p.startedAt >= scheduler.scaled(CONTROLLER_TIMINGS.bootstrapTimeout)) {
        const task = mp.bootstrapTaskId ? platform.task(mp.bootstrapTaskId) : undefined;
        return this.finish(
          op,
          `bootstrap ssh: managed key not installed on ${member.adapter_detail.hostname} after ${CONTROLLER_TIMINGS.bootstrapTimeout / 1000}s (node task ${task?.id ?? 'none'} ${task?.state ?? 'missing'}): ${step.error}`,
          member,
        );
      }
      return;
    }
    if (mp.slurmdStartedAt !== null && now - mp.slurmdStartedAt >= scheduler.scaled(CONTROLLER_TIMINGS.registerTimeout)) {
      return this.finish(
        op,
        `slurmd on ${member.adapter_detail.hostname} did not register with slurmctld within ${CONTROLLER_TIMINGS.registerTimeout / 1000}s`,
        member,
      );
    }
  }

  private workerRemove(inst: AppInstance, op: MemberOperation, p: Progress): void {
    const { platform, slurm } = this.deps;
    const member = platform.memberOnNode(inst.id, op.node_id);
    if (!member) return this.finish(op, null);
    const node = this.deps.hostOf(op.node_id);
    const slurmd = node?.unit(UNITS.slurmd);
    if (node && (slurmd?.running || slurm.nodeOf(op.node_id))) {
      // Stopping slurmd needs the same SSH path as adding it did.
      const target = buildPrefersHost(this.build) ? member.adapter_detail.host : member.adapter_detail.hostname;
      const resolved = resolveName(this.deps.host.files, this.deps.dns, target);
      const error = !resolved
        ? `ssh: Could not resolve hostname ${target}: Name or service not known`
        : node.down
          ? `ssh: connect to host ${target} port 22: Connection timed out`
          : null;
      if (error) {
        p.transportFailures++;
        this.log('error', 'worker remove: ssh failed', { op_id: op.id, node_id: op.node_id, err: error });
        if (p.transportFailures >= CONTROLLER_TIMINGS.transportAttempts) this.finish(op, error);
        return;
      }
      if (slurmd?.running) slurmd.stop();
      if (slurmd) slurmd.enabled = false;
      slurm.unconfigure(op.node_id);
      this.log('info', 'node removed from slurm.conf', { node: member.adapter_detail.hostname });
    }
    platform.release(member.allocation_id);
    platform.removeMember(inst.id, member.id);
    this.progress.delete(member.id);
    this.finish(op, null);
  }

  private finish(op: MemberOperation, error: string | null, member?: Member): void {
    const { platform } = this.deps;
    platform.setOperation(op, error ? 'failed' : 'succeeded', error);
    if (error && member) platform.updateMember(member, { state: 'failed', detail: { last_error: error } });
    this.progress.delete(op.id);
    if (error) this.log('error', 'member operation failed', { op_id: op.id, kind: op.kind, node_id: op.node_id, err: error });
    else this.log('info', 'member operation succeeded', { op_id: op.id, kind: op.kind, node_id: op.node_id });
  }
}
