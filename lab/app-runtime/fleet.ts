/**
 * Fixed facts of the simulated platform-app environment: the control-plane
 * names and address, each worker's MAAS identity and network address, the
 * units and files the app runtime uses, and what the controller builds do.
 */

/** The address the public API names must resolve to from a MAAS-managed node (seed 001, 2026-04-08). */
export const CONTROL_PLANE_IP = '10.176.46.104';
/** sslip.io answers with the address embedded in the name: a tailnet address MAAS nodes cannot route to. */
export const SSLIP_ANSWER_IP = '100.90.157.34';
export const API_NAME = 'api.100-90-157-34.sslip.io';
export const NODE_API_NAME = 'node-api.100-90-157-34.sslip.io';
export const NODE_API_URL = `https://${NODE_API_NAME}`;
export const API_URL = `https://${API_NAME}`;

export const UNITS = {
  nodeAgent: 'gpuaas-node-agent.service',
  slurmd: 'slurmd.service',
  controller: 'slurm-reference-controller.service',
  slurmctld: 'slurmctld.service',
} as const;

export const PATHS = {
  agentEnv: '/etc/gpuaas/node-agent.env',
  agentStateDir: '/var/lib/gpuaas/node-agent',
  agentCert: '/var/lib/gpuaas/node-agent/node.crt',
  agentKey: '/var/lib/gpuaas/node-agent/node.key',
  agentBinary: '/usr/local/bin/gpuaas-node-agent',
  controllerEnv: '/etc/gpuaas/slurm-reference-controller.env',
  controllerBinary: '/usr/local/bin/slurm-reference-controller',
  installer: '/opt/gpuaas/bin/install-controller',
  hosts: '/etc/hosts',
  slurmConf: '/etc/slurm/slurm.conf',
} as const;

/** The Linux user of every app allocation; its authorized_keys is where bootstrap SSH trust lives. */
export const ALLOCATION_USER = 'gpuaas';
export const ALLOCATION_HOME = `/home/${ALLOCATION_USER}`;
export const AUTHORIZED_KEYS = `${ALLOCATION_HOME}/.ssh/authorized_keys`;

export const SLURM_VERSION = '23.11.4';
export const SLURM_PARTITION = 'gpu';
export const NODE_AGENT_VERSION = '0.14.2';

/** Controller builds the platform team's registry has; 1.5.0 is the first that dials connection.host. */
export const CONTROLLER_BUILDS = ['1.4.0', '1.4.2', '1.5.0', '1.5.1'] as const;
export const DEFAULT_CONTROLLER_BUILD = '1.5.0';
const BUILD_COMMITS: Record<string, string> = { '1.4.0': '8d1e04a', '1.4.2': 'b71c3f0', '1.5.0': '3f9c2ab', '1.5.1': 'e0a9d41' };

export function buildCommit(build: string): string {
  return BUILD_COMMITS[build] ?? '0000000';
}

/** Builds before 1.5.0 transport SSH on connection.hostname (the MAAS name); 1.5.0 and later on connection.host. */
export function buildPrefersHost(build: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(build);
  if (!m) return false;
  const [major, minor] = [Number(m[1]), Number(m[2])];
  return major > 1 || (major === 1 && minor >= 5);
}

export interface FleetIdentity {
  /** The reachable address (the member's adapter_detail.host). */
  address: string;
  /** The MAAS identity name (adapter_detail.hostname, Slurm NodeName); not in any resolver. */
  maasHostname: string;
}

/**
 * dev-gpu-N sits on the MAAS network 10.176.47.0/24 (and beyond for large labs)
 * under a rack-unit name: dev-gpu-1 is j27u15, dev-gpu-2 j27u17, ...
 */
export function fleetIdentity(nodeId: string): FleetIdentity {
  const m = /^dev-gpu-(\d+)$/.exec(nodeId);
  if (!m) {
    // Their MAAS-network addresses (workers reach them there); their tailnet ones are 100.90.157.34 and 100.69.173.30.
    const fixed: Record<string, FleetIdentity> = {
      'dev-control-1': { address: '10.176.46.10', maasHostname: 'dev-control-1' },
      'dev-lab-1': { address: '10.176.46.20', maasHostname: 'dev-lab-1' },
    };
    return fixed[nodeId] ?? { address: '10.176.40.10', maasHostname: nodeId };
  }
  const i = Number(m[1]) - 1;
  return {
    address: `10.176.${47 + Math.floor(i / 200)}.${11 + (i % 200)}`,
    maasHostname: `j${27 + Math.floor(i / 16)}u${15 + (i % 16) * 2}`,
  };
}

/** What a host can open TCP connections to. Workers live on the MAAS network only; control hosts are on the tailnet too. */
export function reachable(fromWorker: boolean, ip: string): boolean {
  if (ip === CONTROL_PLANE_IP || ip.startsWith('10.176.') || ip.startsWith('127.')) return true;
  const tailnet = /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./.test(ip);
  return tailnet && !fromWorker;
}
