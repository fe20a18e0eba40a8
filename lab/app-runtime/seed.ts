/**
 * What a converged host looks like before any scenario: files written by the
 * platform's bootstrap (ansible), and a few hours of routine journal history so
 * the interesting lines of a scenario are never the only ones.
 */
import { createHash } from 'node:crypto';
import type { AppHost } from './app-host';
import { encodeCertificate, newCertificate, newPrivateKeyPem } from './certs';
import {
  ALLOCATION_HOME,
  ALLOCATION_USER,
  API_NAME,
  API_URL,
  AUTHORIZED_KEYS,
  buildCommit,
  CONTROL_PLANE_IP,
  DEFAULT_CONTROLLER_BUILD,
  NODE_AGENT_VERSION,
  NODE_API_NAME,
  NODE_API_URL,
  PATHS,
  UNITS,
} from './fleet';
import type { JournalEntry } from './unit-journal';

/** The /etc/hosts lines that make the control-plane names reach the control plane from a MAAS node. */
export const CONTROL_PLANE_HOSTS_LINES = [`${CONTROL_PLANE_IP} ${API_NAME}`, `${CONTROL_PLANE_IP} ${NODE_API_NAME}`];

const HOSTS_HEAD = (hostname: string) => `127.0.0.1 localhost\n127.0.1.1 ${hostname}\n`;
const HOSTS_IPV6 = `
# The following lines are desirable for IPv6 capable hosts
::1     ip6-localhost ip6-loopback
fe00::0 ip6-localnet
ff00::0 ip6-mcastprefix
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
`;

export function hostsFile(hostname: string, controlPlane: boolean): string {
  const cp = controlPlane ? `\n# gpuaas control-plane names (node bootstrap)\n${CONTROL_PLANE_HOSTS_LINES.join('\n')}\n` : '';
  return `${HOSTS_HEAD(hostname)}${cp}${HOSTS_IPV6}`;
}

export function agentEnvFile(nodeId: string, token: string): string {
  return [
    '# gpuaas-node-agent configuration (written by the node bootstrap)',
    `GPUAAS_NODE_ID=${nodeId}`,
    `GPUAAS_NODE_API_URL=${NODE_API_URL}`,
    `GPUAAS_ENROLLMENT_TOKEN=${token}`,
    `GPUAAS_STATE_DIR=${PATHS.agentStateDir}`,
    'GPUAAS_LOG_LEVEL=info',
    '',
  ].join('\n');
}

export function controllerEnvFile(build: string): string {
  return [
    '# slurm-reference-controller (written by /opt/gpuaas/bin/install-controller)',
    `CONTROLLER_BUILD=${build}`,
    `PLATFORM_API_URL=${API_URL}`,
    'PLATFORM_API_TOKEN_FILE=/etc/gpuaas/slurm-reference-controller.token',
    'APP_SLUG=slurm-reference',
    'SLURMCTLD_HOST=dev-lab-1',
    'RECONCILE_INTERVAL=10s',
    '',
  ].join('\n');
}

/** The installed controller binary: what `--version` reads. */
export function controllerBinary(build: string): string {
  return `\u007fELF\u0002\u0001\u0001 slurm-reference-controller build=${build} commit=${buildCommit(build)}\n`;
}

export function binaryBuild(content: string | undefined): string | undefined {
  return content ? /build=(\S+)/.exec(content)?.[1] : undefined;
}

const INSTALLER = `#!/bin/bash
# install-controller BUILD: installs slurm-reference-controller BUILD from the platform registry and restarts it.
set -euo pipefail
`;

/** An OpenSSH ed25519 public key line whose key material is derived from `seed` (stable across resets). */
function stableKeyLine(seed: string, comment: string): string {
  const name = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(8 + name.length + 32);
  blob.writeUInt32BE(name.length, 0);
  name.copy(blob, 4);
  blob.writeUInt32BE(32, 4 + name.length);
  createHash('sha256')
    .update(seed)
    .digest()
    .copy(blob, 8 + name.length);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

/** Keys of people and systems that have nothing to do with the app runtime; a reconcile must leave them alone. */
export const OTHER_AUTHORIZED_KEYS = [stableKeyLine('ops-breakglass', 'ops-breakglass@bastion-1'), stableKeyLine('tenant-acme-ci', 'tenant-acme-ci')];

export function seedFiles(host: AppHost, now: Date, token: string | undefined): void {
  const { files } = host;
  files.write(PATHS.hosts, hostsFile(host.hostname, host.isWorker));
  if (host.isWorker) {
    files.addDir('/etc/gpuaas');
    files.write(PATHS.agentEnv, agentEnvFile(host.nodeId, token ?? ''), { mode: 0o600 });
    files.addDir(PATHS.agentStateDir, { mode: 0o700 });
    const cert = newCertificate(host.nodeId, new Date(now.getTime() - 200 * 86_400_000), new Date(now.getTime() + 165 * 86_400_000));
    files.write(PATHS.agentCert, encodeCertificate(cert), { mode: 0o644 });
    files.write(PATHS.agentKey, newPrivateKeyPem(), { mode: 0o600 });
    files.write(PATHS.agentBinary, `\u007fELF\u0002\u0001\u0001 gpuaas-node-agent ${NODE_AGENT_VERSION}\n`, { mode: 0o755 });
    files.addDir(ALLOCATION_HOME, { mode: 0o750, owner: ALLOCATION_USER, group: ALLOCATION_USER });
    files.addDir(`${ALLOCATION_HOME}/.ssh`, { mode: 0o700, owner: ALLOCATION_USER, group: ALLOCATION_USER });
    files.write(AUTHORIZED_KEYS, `${OTHER_AUTHORIZED_KEYS.join('\n')}\n`, { mode: 0o600, owner: ALLOCATION_USER, group: ALLOCATION_USER });
  }
  if (host.role === 'app_control') {
    files.write(PATHS.controllerEnv, controllerEnvFile(DEFAULT_CONTROLLER_BUILD), { mode: 0o640 });
    files.write(PATHS.controllerBinary, controllerBinary(DEFAULT_CONTROLLER_BUILD), { mode: 0o755 });
    files.write(PATHS.installer, INSTALLER, { mode: 0o755 });
  }
}

type Entry = Omit<JournalEntry, 'us'>;

/** A few hours of a healthy host's service journal, oldest first. */
export function historyFor(host: AppHost, pids: Map<string, number>): Entry[] {
  const out: Entry[] = [];
  const pid = (unit: string) => pids.get(unit) ?? 1000;
  const started = (unit: string, description: string) => out.push({ unit, ident: 'systemd', pid: 1, message: `Started ${unit} - ${description}.` });
  if (host.isWorker) {
    const u = UNITS.nodeAgent;
    const log = (message: string) => out.push({ unit: u, ident: 'gpuaas-node-agent', pid: pid(u), message });
    started(u, 'GPUaaS node agent');
    log(`level=info msg="starting gpuaas-node-agent" version=${NODE_AGENT_VERSION} node_id=${host.nodeId}`);
    log(`level=info msg="connected to node-api" url=wss://${NODE_API_NAME}/v1/agent/connect addr=${CONTROL_PLANE_IP}:443 session=5d0c8e21`);
    for (let i = 1; i <= 236; i++) {
      if (i % 5 === 0) log('level=info msg="inventory reported" gpus=8 driver=550.90.07 allocations=2');
      else if (i % 37 === 0) log('level=info msg="metrics flushed" samples=1440 bytes=96812');
      else log(`level=info msg="heartbeat ok" rtt_ms=${8 + ((i * 7) % 9)}`);
    }
  }
  if (host.role === 'app_control') {
    const c = UNITS.controller;
    const s = UNITS.slurmctld;
    started(s, 'Slurm controller daemon');
    out.push({ unit: s, ident: 'slurmctld', pid: pid(s), message: 'slurmctld version 23.11.4 started on cluster gpuaas-lab' });
    out.push({ unit: s, ident: 'slurmctld', pid: pid(s), message: 'Running as primary controller' });
    started(c, 'GPUaaS slurm-reference app controller');
    const log = (message: string) => out.push({ unit: c, ident: 'slurm-reference-controller', pid: pid(c), message });
    log(
      `level=info msg="slurm-reference-controller starting" build=${DEFAULT_CONTROLLER_BUILD} commit=${buildCommit(DEFAULT_CONTROLLER_BUILD)} ssh_transport=connection.host`,
    );
    log(`level=info msg="watching app instances" app_slug=slurm-reference platform=${API_URL}`);
    log('level=info msg="slurmctld up" host=dev-lab-1 port=6817 version=23.11.4');
    for (let i = 1; i <= 600; i++) log(`level=info msg="reconcile pass" instances=0 pending_ops=0 duration_ms=${2 + (i % 5)}`);
  }
  return out;
}
