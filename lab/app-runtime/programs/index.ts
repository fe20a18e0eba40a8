/**
 * The programs the platform-app runtime adds to a lab host, as one
 * HostCommandExtension: file tools, resolver and network probes, openssl,
 * systemctl/journalctl for the services, Slurm's clients, the controller
 * installer. Each program exists only where it would on the real host.
 */
import { fail, type CommandPlan, type CommandResult } from '../../command-types';
import type { ExtensionIo, HostCommandExtension } from '../../command-extension';
import { hostRows, ps } from '../../process-table';
import type { AppHost } from '../app-host';
import type { AppRuntime } from '../app-runtime';
import { CONTROL_PLANE_IP, PATHS, reachable, SSLIP_ANSWER_IP, UNITS } from '../fleet';
import { controllerVersion, installController, nodeAgentVersion } from './controller-programs';
import { cp, install, mv, rm, stat, tee, test } from './file-programs';
import { curl, getent, nc, type PortState } from './net-programs';
import { openssl } from './openssl';
import { journalctlUnits, systemctl, wantsUnits } from './service-programs';
import { scontrol, sinfo, SLURM_RPC_MS } from './slurm-programs';

/** Real durations, in ms. */
const FILE_OP_MS = 8;
const OPENSSL_MS = 15;

/** coreutils and friends are found by name or under /usr/bin, /bin, /usr/sbin, /sbin. */
function plainName(arg0: string): string {
  const m = /^\/(?:usr\/)?s?bin\/([^/]+)$/.exec(arg0);
  return m?.[1] ?? arg0;
}

const EVERYWHERE = new Set(['mv', 'install', 'tee', 'cp', 'rm', 'test', 'stat', 'getent', 'nc', 'curl', 'openssl', 'ps']);
/** Real durations, in ms. */
const PS_MS = 25;
const SLURM_CLIENTS = new Set(['sinfo', 'scontrol']);

/** What a TCP connect from `from` to ip:port meets in the lab's network. */
export function connectFrom(rt: AppRuntime, from: AppHost, ip: string, port: number): PortState {
  if (!reachable(from.isWorker, ip)) return 'no_route';
  if (ip === CONTROL_PLANE_IP) return port === 443 || port === 80 ? 'open' : 'closed';
  if (ip === SSLIP_ANSWER_IP) return port === 443 || port === 22 ? 'open' : 'closed';
  if (ip.startsWith('127.')) return port === 22 ? 'open' : 'closed';
  const target = [...rt.hosts.values()].find((h) => h.identity.address === ip);
  if (!target || target.down) return 'timeout';
  if (port === 22) return 'open';
  if (port === 6818) return target.unit(UNITS.slurmd)?.running ? 'open' : 'closed';
  if (port === 6817) return target.unit(UNITS.slurmctld)?.running ? 'open' : 'closed';
  return 'closed';
}

const quick = (ms: number, run: () => CommandResult): CommandPlan => ({ durationMs: ms, finish: run });

export function appPrograms(rt: AppRuntime, nodeId: string): HostCommandExtension {
  const host = rt.host(nodeId);
  if (!host) throw new RangeError(`unknown host ${nodeId}`);
  const hasSlurm = host.isWorker || host.role === 'app_control';
  const isControllerBinary = (arg0: string) => arg0 === 'slurm-reference-controller' || arg0 === PATHS.controllerBinary;
  const isAgentBinary = (arg0: string) => arg0 === 'gpuaas-node-agent' || arg0 === PATHS.agentBinary;
  const net = { host, dns: rt.dns, connect: (ip: string, port: number) => connectFrom(rt, host, ip, port) };

  const has = (program: string): boolean => {
    const name = plainName(program);
    if (EVERYWHERE.has(name)) return true;
    if (SLURM_CLIENTS.has(name)) return hasSlurm;
    if (program === PATHS.installer) return host.files.exists(PATHS.installer);
    if (isControllerBinary(program)) return host.files.exists(PATHS.controllerBinary);
    if (isAgentBinary(program)) return host.files.exists(PATHS.agentBinary);
    return false;
  };

  const plan = (argv: readonly string[], io: ExtensionIo): CommandPlan | undefined => {
    const [arg0 = '', ...args] = argv;
    const name = plainName(arg0);
    const { files } = host;
    switch (name) {
      case 'ps':
        return quick(PS_MS, () => ps(hostRows(host, rt.otherProcesses), args));
      case 'mv':
        return quick(FILE_OP_MS, () => mv(files, args));
      case 'install':
        return quick(FILE_OP_MS, () => install(files, args, io.stdin));
      case 'tee':
        return quick(FILE_OP_MS, () => tee(files, args, io.stdin));
      case 'cp':
        return quick(FILE_OP_MS, () => cp(files, args));
      case 'rm':
        return quick(FILE_OP_MS, () => rm(files, args));
      case 'test':
        return quick(2, () => test(files, args));
      case 'stat':
        return quick(FILE_OP_MS, () => stat(files, args));
      case 'getent':
        return getent(net, args);
      case 'nc':
        return nc(net, args);
      case 'curl':
        return curl(net, args);
      case 'openssl':
        return quick(OPENSSL_MS, () => openssl(files, args, io.stdin));
      case 'systemctl':
        return systemctl(host, args, io);
      case 'journalctl':
        return wantsUnits(args) ? journalctlUnits(host, args) : undefined;
      case 'sinfo':
        return hasSlurm ? quick(SLURM_RPC_MS, () => sinfo(rt.slurm, args)) : undefined;
      case 'scontrol':
        return hasSlurm ? quick(SLURM_RPC_MS, () => scontrol(rt.slurm, rt.controlHost.hostname, args)) : undefined;
    }
    if (arg0 === PATHS.installer) {
      return host.files.exists(arg0) ? installController(host, args) : quick(5, () => fail(127, `bash: ${arg0}: No such file or directory\n`));
    }
    if (isControllerBinary(arg0) && (host.files.exists(PATHS.controllerBinary) || arg0.startsWith('/'))) {
      return quick(20, () =>
        host.files.exists(PATHS.controllerBinary) ? controllerVersion(host, args) : fail(127, `bash: ${arg0}: No such file or directory\n`),
      );
    }
    if (isAgentBinary(arg0) && host.files.exists(PATHS.agentBinary)) return quick(20, () => nodeAgentVersion(args));
    if (arg0.startsWith('/opt/gpuaas/') || arg0.startsWith('/usr/local/bin/')) return quick(5, () => fail(127, `bash: ${arg0}: No such file or directory\n`));
    return undefined;
  };

  return { plan, has };
}
