/**
 * The platform-app part of the lab in one place: the app_control host's Slurm
 * controller and slurmctld, every worker's node-agent and slurmd, the
 * platform's app-runtime state, the environment's DNS, and the timers that move
 * them. Reached only through the hosts' SSH servers (programs.ts) and the HTTP
 * routes (platform-routes.ts, admin-routes.ts).
 */
import type { OtherProcess } from '../process-table';
import type { LabObservability } from '../observability';
import type { LabHost } from '../world';
import { AppHost } from './app-host';
import { ALLOCATION_BIND_MS, AppPlatform, RECONCILE_KEY_TASK, type AppAllocation, type AppInstance, type Member, type NodeTask } from './app-platform';
import { ControllerDaemon } from './controller';
import { fleetIdentity, UNITS } from './fleet';
import { NodeAgent } from './node-agent';
import { LabDns } from './resolver';
import { Scheduler } from './scheduler';
import { agentEnvFile, historyFor, seedFiles } from './seed';
import { ServiceUnit, type UnitDefinition } from './service-units';
import { SlurmCluster } from './slurm-cluster';

const OWN_UNITS = new Set<string>(Object.values(UNITS));

/** Enrollment tokens the platform mints are valid this long (real ms); the bootstrap's first one a week. */
export const TOKEN_VALIDITY_MS = 24 * 3_600_000;
const BOOTSTRAP_TOKEN_VALIDITY_MS = 7 * 24 * 3_600_000;
/** How long the seeded journal history reaches back. */
const HISTORY_MS = 4 * 3_600_000;
/** A rebooting host is checked this often for being back (real ms). */
const BOOT_POLL_MS = 5_000;
/** No controller pass for this long: the platform says so on the instance's members. */
export const CONTROLLER_HEARTBEAT_STALE_MS = 30_000;

const UNIT_DEFS: Record<keyof typeof UNITS, UnitDefinition> = {
  nodeAgent: {
    id: UNITS.nodeAgent,
    description: 'GPUaaS node agent',
    fragment: '/etc/systemd/system/gpuaas-node-agent.service',
    docs: 'https://docs.gpuaas.dev/node-agent',
    execStart: '/usr/local/bin/gpuaas-node-agent',
    restart: 'on-failure',
    restartSecMs: 10_000,
    environmentFile: '/etc/gpuaas/node-agent.env',
    tasks: 14,
    memoryMiB: 23.8,
  },
  slurmd: {
    id: UNITS.slurmd,
    description: 'Slurm node daemon',
    fragment: '/usr/lib/systemd/system/slurmd.service',
    docs: 'man:slurmd(8)',
    execStart: '/usr/sbin/slurmd --systemd --conf-server 10.176.46.20:6817',
    restart: 'no',
    restartSecMs: 0,
    tasks: 2,
    memoryMiB: 7.4,
  },
  controller: {
    id: UNITS.controller,
    description: 'GPUaaS slurm-reference app controller',
    fragment: '/etc/systemd/system/slurm-reference-controller.service',
    docs: 'https://docs.gpuaas.dev/apps/slurm-reference',
    execStart: '/usr/local/bin/slurm-reference-controller --config /etc/gpuaas/slurm-reference-controller.env',
    restart: 'on-failure',
    restartSecMs: 5_000,
    environmentFile: '/etc/gpuaas/slurm-reference-controller.env',
    tasks: 11,
    memoryMiB: 31.2,
  },
  slurmctld: {
    id: UNITS.slurmctld,
    description: 'Slurm controller daemon',
    fragment: '/usr/lib/systemd/system/slurmctld.service',
    docs: 'man:slurmctld(8)',
    execStart: '/usr/sbin/slurmctld --systemd',
    restart: 'no',
    restartSecMs: 0,
    tasks: 12,
    memoryMiB: 18.9,
  },
};

export interface AppRuntimeOptions {
  hosts: readonly LabHost[];
  timeScale: number;
  /** Where the controller and node-agents ship their logs (the lab's Loki); none when left out. */
  observability?: LabObservability;
}

export class AppRuntime {
  readonly platform = new AppPlatform();
  readonly dns = new LabDns();
  readonly scheduler: Scheduler;
  readonly hosts = new Map<string, AppHost>();
  readonly agents = new Map<string, NodeAgent>();
  readonly slurm: SlurmCluster;
  readonly controller: ControllerDaemon;
  /** The app_control host (dev-lab-1). */
  readonly controlHost: AppHost;
  /** Processes on the hosts that no unit owns (a tenant's job, a daemon started by hand where it should not run); `ps` lists them. */
  readonly otherProcesses: OtherProcess[] = [];

  constructor(private readonly opts: AppRuntimeOptions) {
    this.scheduler = new Scheduler(opts.timeScale);
    for (const lab of opts.hosts) this.hosts.set(lab.spec.node_id, new AppHost(lab));
    const control = [...this.hosts.values()].find((h) => h.role === 'app_control');
    if (!control) throw new Error('the lab has no app_control host for the platform-app runtime');
    this.controlHost = control;
    this.slurm = new SlurmCluster({ controlHost: () => this.controlHost, host: (id) => this.hosts.get(id), scheduler: this.scheduler });
    this.controller = new ControllerDaemon({
      host: control,
      platform: this.platform,
      slurm: this.slurm,
      dns: this.dns,
      scheduler: this.scheduler,
      hostOf: (id) => this.hosts.get(id),
      requestKeyReconcile: (instanceId, allocationId) => this.requestKeyReconcile(instanceId, allocationId),
      logs: opts.observability?.writer('slurm-reference-controller', control.nodeId),
    });
    const deps = { state: control.lab.state, journal: control.journal, scheduler: this.scheduler, files: control.files };
    control.units.set(UNITS.controller, new ServiceUnit(UNIT_DEFS.controller, deps, () => this.controller.process()));
    control.units.set(UNITS.slurmctld, new ServiceUnit(UNIT_DEFS.slurmctld, deps, () => this.slurm.slurmctldProcess()));
    for (const host of this.hosts.values()) {
      if (!host.isWorker) continue;
      const agent = new NodeAgent({ host, platform: this.platform, dns: this.dns, logs: this.opts.observability?.writer('node-agent', host.nodeId) });
      this.agents.set(host.nodeId, agent);
      const hd = { state: host.lab.state, journal: host.journal, scheduler: this.scheduler, files: host.files };
      host.units.set(UNITS.nodeAgent, new ServiceUnit(UNIT_DEFS.nodeAgent, hd, () => agent.process()));
      host.units.set(UNITS.slurmd, new ServiceUnit(UNIT_DEFS.slurmd, hd, () => this.slurm.slurmdProcess(host)));
    }
    this.reset();
  }

  /** A process started on `nodeId` outside any unit, as someone's shell would leave it running. */
  startOtherProcess(nodeId: string, user: string, args: string): OtherProcess {
    const host = this.hosts.get(nodeId);
    if (!host) throw new RangeError(`unknown host ${nodeId}`);
    const proc: OtherProcess = { nodeId, pid: host.lab.state.nextPid(), user, rssMiB: 64, startedAt: new Date(), args, alive: true };
    this.otherProcesses.push(proc);
    return proc;
  }

  /**
   * Converged and idle: controller 1.5.0 and slurmctld running, every node-agent
   * connected with a valid certificate and an unused bootstrap token, slurmd
   * installed but not started, no app instances. Called after the hosts' own reset.
   */
  reset(now = new Date()): void {
    this.scheduler.cancelAll();
    for (const h of this.hosts.values()) for (const u of h.units.values()) u.kill();
    this.platform.reset();
    this.dns.reset();
    this.otherProcesses.length = 0;
    const since = new Date(now.getTime() - HISTORY_MS);
    for (const h of this.hosts.values()) {
      h.files.reset();
      h.journal.clear();
      const token = h.isWorker ? this.platform.mintToken(h.nodeId, BOOTSTRAP_TOKEN_VALIDITY_MS, now).token : undefined;
      seedFiles(h, now, token);
      const pids = new Map<string, number>();
      for (const u of h.units.values()) {
        // Another part of the lab may run its own units on these hosts (the orchestrator); it resets them itself.
        if (!OWN_UNITS.has(u.id)) continue;
        u.installed = true;
        u.enabled = u.id !== UNITS.slurmd;
        if (u.id === UNITS.slurmd) continue;
        u.assumeRunning(since);
        pids.set(u.id, u.pidForLog);
      }
      h.journal.seedHistory(historyFor(h, pids), since.getTime() * 1000, now.getTime() * 1000 - 1000);
    }
    this.slurm.reset();
    this.platform.controllerSeenAt = now;
  }

  stop(): void {
    this.scheduler.cancelAll();
    for (const h of this.hosts.values()) for (const u of h.units.values()) u.kill();
  }

  host(nodeId: string): AppHost | undefined {
    return this.hosts.get(nodeId);
  }

  /** The host lost power or rebooted: its services die now and start again (if enabled) once it is back. */
  hostWentDown(nodeId: string): void {
    const h = this.hosts.get(nodeId);
    if (!h) return;
    const bootId = h.lab.state.bootId;
    for (const u of h.units.values()) u.kill();
    const poll = () => {
      if (h.down || h.lab.state.bootId === bootId) {
        this.scheduler.after(BOOT_POLL_MS, poll);
        return;
      }
      for (const u of h.units.values()) if (u.installed && u.enabled) u.start();
    };
    this.scheduler.after(BOOT_POLL_MS, poll);
  }

  // -- platform actions (HTTP routes and lab admin) ----------------------------------------------

  /** A new slurm-reference instance in `deploying`; the scheduler binds its controller allocation shortly (or at once). */
  createInstance(input: { id?: string; project_id: string; app_slug: string; name: string; controller_node_id: string }, bindNow = false) {
    const created = this.platform.createInstance(input, (id) => {
      const f = fleetIdentity(id);
      return { host: f.address, hostname: f.maasHostname };
    });
    if (bindNow) this.platform.bind(created.allocation.id);
    else this.scheduler.after(ALLOCATION_BIND_MS, () => this.platform.bind(created.allocation.id));
    return { ...created, allocation: this.platform.allocation(created.allocation.id)! };
  }

  /** A bootstrap SSH reconcile: one node task for the allocation's node, handed to its agent if connected. */
  requestKeyReconcile(instanceId: string, allocationId: string): NodeTask {
    const allocation = this.platform.allocation(allocationId);
    if (!allocation) throw new RangeError(`unknown allocation ${allocationId}`);
    const task = this.platform.createTask(allocation.node_id, RECONCILE_KEY_TASK, allocationId, instanceId);
    this.agents.get(allocation.node_id)?.pump();
    return task;
  }

  mintEnrollmentToken(nodeId: string): { token: string; expires_at: string } {
    return this.platform.mintToken(nodeId, TOKEN_VALIDITY_MS);
  }

  /** Members as the API shows them: the platform says so when no controller has reported in for a while. */
  membersView(inst: AppInstance): Member[] {
    const seen = this.platform.controllerSeenAt;
    const stale = seen === null || Date.now() - seen.getTime() > this.scheduler.scaled(CONTROLLER_HEARTBEAT_STALE_MS);
    return this.platform.listMembers(inst.id).map((m) => {
      const view = structuredClone(m);
      if (stale && inst.status === 'deploying' && m.state !== 'ready') {
        const last = seen ? seen.toISOString() : 'never';
        view.adapter_detail.last_error = `no slurm-reference-controller has reported for this environment (last seen: ${last}); member not reconciled`;
        if (view.adapter_detail.phase === 'pending') view.adapter_detail.phase = 'awaiting_controller';
      }
      return view;
    });
  }

  allocationView(allocationId: string): AppAllocation | undefined {
    const a = this.platform.allocation(allocationId);
    return a ? { ...a } : undefined;
  }

  /** Debug view for GET /lab/v1/app-runtime/state. */
  snapshot(): object {
    const units = (h: AppHost) =>
      Object.fromEntries(
        [...h.units.values()].map((u) => {
          const s = u.status();
          return [u.id, { installed: s.installed, enabled: s.enabled, active: s.activeState, sub: s.subState, pid: s.mainPid }];
        }),
      );
    return {
      time_scale: this.opts.timeScale,
      dns: this.dns.snapshot(),
      controller: { host: this.controlHost.nodeId, running_build: this.controller.runningBuild, units: units(this.controlHost) },
      controller_seen_at: this.platform.controllerSeenAt?.toISOString() ?? null,
      nodes: [...this.agents.entries()].map(([nodeId, agent]) => {
        const h = this.hosts.get(nodeId)!;
        return {
          node_id: nodeId,
          address: h.identity.address,
          maas_hostname: h.identity.maasHostname,
          agent_connected: agent.connected,
          units: units(h),
          enrollment_token: this.platform.tokenSnapshot(nodeId),
          tasks: this.platform.tasksForNode(nodeId),
        };
      }),
      slurm: this.slurm.list().map((n) => ({ name: n.name, node_id: n.nodeId, ...this.slurm.state(n) })),
      instances: this.platform.listInstances().map((i) => ({ ...i, members: this.membersView(i), operations: this.platform.listOperations(i.id) })),
    };
  }

  /** The env file as the bootstrap writes it, with `token` (fault set-up). */
  writeAgentEnv(nodeId: string, token: string): void {
    this.hosts.get(nodeId)?.files.write('/etc/gpuaas/node-agent.env', agentEnvFile(nodeId, token), { mode: 0o600 });
  }
}
