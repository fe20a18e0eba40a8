/**
 * The Slurm cluster of the reference app: slurmctld on the app_control host
 * keeps the node table (from the slurm.conf the controller writes), and each
 * worker's slurmd registers with it (configless: slurmd fetches its config from
 * slurmctld, so it cannot start while slurmctld is down or before the
 * controller has added its node). A node whose slurmd stopped is not responding
 * at once and DOWN after SlurmdTimeout.
 */
import type { AppHost } from './app-host';
import { PATHS, SLURM_PARTITION, SLURM_VERSION, UNITS } from './fleet';
import type { Scheduler } from './scheduler';
import type { ServiceProcess } from './service-units';

export const SLURM_TIMINGS = {
  /** slurmd start to its registration RPC being answered. */
  register: 2_000,
  /** SlurmdTimeout: a node not responding this long is set DOWN. */
  slurmdTimeout: 300_000,
  /** slurmctld pings nodes this often and logs the ones that do not answer. */
  ping: 100_000,
} as const;

export const NODE_HARDWARE = {
  cpus: 224,
  boards: 1,
  sockets: 2,
  coresPerSocket: 56,
  threadsPerCore: 2,
  realMemory: 2063937,
  gres: 'gpu:h100:8(S:0-1)',
  gpus: 8,
};

export interface SlurmNode {
  name: string;
  nodeId: string;
  addr: string;
  hostname: string;
  /** slurmd has registered at least once since the node was configured. */
  registered: boolean;
  responding: boolean;
  lastResponse: Date | null;
  slurmdStartedAt: Date | null;
  bootTime: Date;
}

export interface NodeState {
  /** scontrol's base state: IDLE, DOWN, UNKNOWN. */
  base: 'IDLE' | 'DOWN' | 'UNKNOWN';
  notResponding: boolean;
  reason: string | null;
}

export class SlurmCluster {
  private readonly nodes = new Map<string, SlurmNode>();

  constructor(
    private readonly deps: {
      controlHost(): AppHost | undefined;
      host(nodeId: string): AppHost | undefined;
      scheduler: Scheduler;
    },
  ) {}

  reset(): void {
    this.nodes.clear();
    this.writeConf();
  }

  ctldRunning(): boolean {
    const h = this.deps.controlHost();
    return !!h && !h.down && (h.unit(UNITS.slurmctld)?.running ?? false);
  }

  list(): SlurmNode[] {
    return [...this.nodes.values()];
  }

  node(name: string): SlurmNode | undefined {
    return this.nodes.get(name);
  }

  nodeOf(nodeId: string): SlurmNode | undefined {
    return this.list().find((n) => n.nodeId === nodeId);
  }

  /** The controller adds a worker to slurm.conf and reconfigures slurmctld. */
  configure(host: AppHost): SlurmNode {
    const existing = this.nodeOf(host.nodeId);
    if (existing) return existing;
    const n: SlurmNode = {
      name: host.identity.maasHostname,
      nodeId: host.nodeId,
      addr: host.identity.address,
      hostname: host.identity.maasHostname,
      registered: false,
      responding: false,
      lastResponse: null,
      slurmdStartedAt: null,
      bootTime: host.lab.state.bootedAt,
    };
    this.nodes.set(n.name, n);
    this.writeConf();
    this.ctldLog(`_slurm_rpc_reconfigure_controller: completed usec=${4000 + Math.floor(Math.random() * 3000)}`);
    return n;
  }

  unconfigure(nodeId: string): void {
    const n = this.nodeOf(nodeId);
    if (!n) return;
    this.nodes.delete(n.name);
    this.writeConf();
    this.ctldLog(`_slurm_rpc_reconfigure_controller: completed usec=${4000 + Math.floor(Math.random() * 3000)}`);
  }

  state(n: SlurmNode, now = new Date()): NodeState {
    if (n.responding) return { base: 'IDLE', notResponding: false, reason: null };
    if (!n.registered) return { base: 'UNKNOWN', notResponding: true, reason: null };
    const since = n.lastResponse?.getTime() ?? now.getTime();
    if (now.getTime() - since >= this.deps.scheduler.scaled(SLURM_TIMINGS.slurmdTimeout)) {
      return { base: 'DOWN', notResponding: true, reason: `Not responding [slurm@${new Date(since).toISOString().slice(0, 19)}]` };
    }
    return { base: 'IDLE', notResponding: true, reason: null };
  }

  /** What the controller reports as slurmd_state for the node. */
  slurmdState(nodeId: string): string {
    const n = this.nodeOf(nodeId);
    if (!n) return 'unknown';
    const s = this.state(n);
    if (!s.notResponding) return s.base.toLowerCase();
    return s.base === 'DOWN' ? 'down' : 'not_responding';
  }

  slurmdProcess(host: AppHost): ServiceProcess {
    return {
      run: (ctx) => {
        ctx.log(`slurmd version ${SLURM_VERSION} started`);
        if (!this.ctldRunning()) {
          ctx.log('error: _fetch_child: failed to fetch remote configs: Unable to contact slurm controller (connect failure)');
          ctx.log('fatal: Unable to establish a configuration source');
          ctx.after(50, () => ctx.exit(1));
          return;
        }
        const n = this.nodeOf(host.nodeId);
        if (!n) {
          ctx.log(`fatal: Unable to determine this slurmd's NodeName`);
          ctx.after(50, () => ctx.exit(1));
          return;
        }
        n.slurmdStartedAt = new Date();
        ctx.after(SLURM_TIMINGS.register, () => {
          const now = new Date();
          const d = now.toUTCString().replace('GMT', '+0000');
          ctx.log(`slurmd started on ${d}`);
          const hw = NODE_HARDWARE;
          ctx.log(
            `CPUs=${hw.cpus} Boards=${hw.boards} Sockets=${hw.sockets} Cores=${hw.coresPerSocket} Threads=${hw.threadsPerCore} Memory=${hw.realMemory} TmpDisk=0 Uptime=${Math.floor((now.getTime() - host.lab.state.bootedAt.getTime()) / 1000)} CPUSpecList=(null) FeaturesAvail=(null) FeaturesActive=(null)`,
          );
          const current = this.nodeOf(host.nodeId);
          if (!current || !this.ctldRunning()) {
            ctx.log('error: Unable to register: Unable to contact slurm controller (connect failure)');
            return;
          }
          const wasDown = current.registered && !current.responding;
          current.registered = true;
          current.responding = true;
          current.lastResponse = now;
          current.bootTime = host.lab.state.bootedAt;
          this.ctldLog(wasDown ? `Node ${current.name} now responding` : `validate_node_specs: Node ${current.name} registered`);
        });
      },
      stopping: () => undefined,
      ended: () => {
        const n = this.nodeOf(host.nodeId);
        if (!n?.responding) return;
        n.responding = false;
        n.lastResponse = new Date();
        const name = n.name;
        this.deps.scheduler.after(SLURM_TIMINGS.ping, () => {
          const cur = this.node(name);
          if (cur && !cur.responding) this.ctldLog(`error: Nodes ${name} not responding`);
        });
      },
    };
  }

  slurmctldProcess(): ServiceProcess {
    return {
      run: (ctx) => {
        if (ctx.resumed) return;
        ctx.log(`slurmctld version ${SLURM_VERSION} started on cluster gpuaas-lab`);
        ctx.log('Running as primary controller');
        ctx.log(`Recovered state of ${this.nodes.size} nodes`);
      },
      stopping: () => {
        this.ctldLog('Terminate signal (SIGINT or SIGTERM) received');
        this.ctldLog('Saving all slurm state');
      },
    };
  }

  private ctldLog(message: string): void {
    const h = this.deps.controlHost();
    const u = h?.unit(UNITS.slurmctld);
    if (h && u?.running) h.journal.write(u.id, 'slurmctld', u.pidForLog, message);
  }

  /** /etc/slurm/slurm.conf on the app_control host, as the controller writes it. */
  private writeConf(): void {
    const h = this.deps.controlHost();
    if (!h) return;
    const hw = NODE_HARDWARE;
    const nodes = this.list();
    const lines = [
      '# slurm.conf written by slurm-reference-controller; local edits are overwritten',
      'ClusterName=gpuaas-lab',
      `SlurmctldHost=${h.hostname}(${h.identity.address})`,
      'SlurmctldPort=6817',
      'SlurmdPort=6818',
      'AuthType=auth/munge',
      'SlurmctldParameters=enable_configless',
      'ReturnToService=1',
      `SlurmdTimeout=${SLURM_TIMINGS.slurmdTimeout / 1000}`,
      'GresTypes=gpu',
      'SelectType=select/cons_tres',
      ...nodes.map(
        (n) =>
          `NodeName=${n.name} NodeAddr=${n.addr} NodeHostName=${n.hostname} CPUs=${hw.cpus} Boards=${hw.boards} SocketsPerBoard=${hw.sockets} CoresPerSocket=${hw.coresPerSocket} ThreadsPerCore=${hw.threadsPerCore} RealMemory=${hw.realMemory} Gres=gpu:h100:${hw.gpus} State=UNKNOWN`,
      ),
      nodes.length > 0
        ? `PartitionName=${SLURM_PARTITION} Nodes=${nodes.map((n) => n.name).join(',')} Default=YES MaxTime=INFINITE State=UP`
        : `# PartitionName=${SLURM_PARTITION}: no nodes yet`,
    ];
    h.files.write(PATHS.slurmConf, `${lines.join('\n')}\n`);
  }
}
