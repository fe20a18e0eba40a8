/**
 * The first-slice failure modes of seed 001, injected into a converged lab, alone
 * or chained. Each leaves the hosts and the platform the way the real incident
 * did, so the evidence is only what a real host shows (systemctl, journalctl,
 * files, getent) and the fix is the real one. Failure mode 6 (bootstrap node
 * tasks stuck queued) is no fault of its own: it follows from 3, 4, 5 or a
 * stopped agent.
 */
import { z } from 'zod';
import type { AppRuntime } from './app-runtime';
import { decodeCertificate, encodeCertificate, newCertificate, newPrivateKeyPem } from './certs';
import { API_NAME, CONTROLLER_BUILDS, NODE_API_NAME, PATHS, UNITS } from './fleet';
import { parseEnvFile } from './host-files';
import { controllerBinary, controllerEnvFile } from './seed';

const NodeId = z.string().min(1).max(64);

export const FaultSchema = z.discriminatedUnion('fault', [
  z.object({ fault: z.literal('no_controller'), mode: z.enum(['not_installed', 'stopped']).default('not_installed') }).strict(),
  z.object({ fault: z.literal('hostname_build'), build: z.enum(CONTROLLER_BUILDS).default('1.4.0') }).strict(),
  z
    .object({
      fault: z.literal('node_api_unreachable'),
      node_id: NodeId.default('dev-gpu-1'),
      /** no_route: DNS answers the sslip.io address (unroutable from the node); no_such_host: DNS has no answer. */
      mode: z.enum(['no_route', 'no_such_host']).default('no_route'),
    })
    .strict(),
  z
    .object({
      fault: z.literal('agent_cert_expired'),
      node_id: NodeId.default('dev-gpu-1'),
      not_after: z.string().datetime({ offset: true }).optional(),
    })
    .strict(),
  z.object({ fault: z.literal('stale_enrollment_token'), node_id: NodeId.default('dev-gpu-1') }).strict(),
  z.object({ fault: z.literal('agent_stopped'), node_id: NodeId.default('dev-gpu-1') }).strict(),
]);
export type Fault = z.infer<typeof FaultSchema>;
export type FaultName = Fault['fault'];

export class FaultError extends Error {}

/** Yesterday 10:00:00 UTC: an expiry clearly in the past, printed like the incident's. */
function defaultExpiry(now: Date): Date {
  const d = new Date(now.getTime() - 86_400_000);
  d.setUTCHours(10, 0, 0, 0);
  return d;
}

/** Applies one fault; returns what the fault did, for the caller's answer. */
export function applyFault(rt: AppRuntime, fault: Fault, now = new Date()): Record<string, unknown> {
  const ctl = rt.controlHost;
  switch (fault.fault) {
    case 'no_controller': {
      const unit = ctl.unit(UNITS.controller)!;
      if (fault.mode === 'stopped') {
        unit.stop(now);
        unit.enabled = false;
      } else {
        unit.uninstall();
        ctl.files.remove(PATHS.controllerEnv);
        ctl.files.remove(PATHS.controllerBinary);
      }
      // Never reported in from this environment: the platform says so on the members.
      rt.platform.controllerSeenAt = null;
      return { fault: fault.fault, mode: fault.mode };
    }
    case 'hostname_build': {
      ctl.files.write(PATHS.controllerEnv, controllerEnvFile(fault.build), { mode: 0o640 });
      ctl.files.write(PATHS.controllerBinary, controllerBinary(fault.build), { mode: 0o755 });
      // The build was rolled out the way the installer does it: the running controller restarted on it.
      const unit = ctl.unit(UNITS.controller)!;
      if (unit.installed && unit.running) unit.restart(now);
      return { fault: fault.fault, build: fault.build };
    }
    case 'node_api_unreachable': {
      const host = workerHost(rt, fault.node_id);
      const hosts = host.files.read(PATHS.hosts) ?? '';
      const kept = hosts.split('\n').filter((l) => {
        const names = l.replace(/#.*$/, '').trim().split(/\s+/).slice(1);
        return !names.some((n) => n === NODE_API_NAME || n === API_NAME);
      });
      host.files.write(PATHS.hosts, kept.join('\n').replace(/\n# gpuaas control-plane names \(node bootstrap\)\n/, '\n'));
      if (fault.mode === 'no_such_host') {
        rt.dns.noAnswer(NODE_API_NAME);
        rt.dns.noAnswer(API_NAME);
      }
      rt.agents.get(host.nodeId)?.lose(`read tcp ${host.identity.address}:52814->10.176.46.104:443: read: connection reset by peer`);
      return { fault: fault.fault, node_id: host.nodeId, mode: fault.mode };
    }
    case 'agent_cert_expired': {
      const host = workerHost(rt, fault.node_id);
      const notAfter = fault.not_after ? new Date(fault.not_after) : defaultExpiry(now);
      if (notAfter.getTime() >= now.getTime()) throw new FaultError('not_after must be in the past');
      const cert = newCertificate(host.nodeId, new Date(notAfter.getTime() - 365 * 86_400_000), notAfter);
      host.files.write(PATHS.agentCert, encodeCertificate(cert), { mode: 0o644 });
      if (!host.files.exists(PATHS.agentKey)) host.files.write(PATHS.agentKey, newPrivateKeyPem(), { mode: 0o600 });
      rt.agents.get(host.nodeId)?.lose('remote error: tls: expired certificate');
      return { fault: fault.fault, node_id: host.nodeId, not_after: notAfter.toISOString() };
    }
    case 'stale_enrollment_token': {
      const host = workerHost(rt, fault.node_id);
      // The platform minted a newer token since the bootstrap wrote this one: the file's token is dead.
      const current = parseEnvFile(host.files.read(PATHS.agentEnv) ?? '').get('GPUAAS_ENROLLMENT_TOKEN') ?? '';
      rt.mintEnrollmentToken(host.nodeId);
      if (!host.files.exists(PATHS.agentEnv)) rt.writeAgentEnv(host.nodeId, current);
      // Alone, the stale token only shows once the agent must enroll: its identity is gone. With an expired
      // certificate (failure 4 first) the identity stays and the token bites after the certificate is moved aside.
      const cert = decodeCertificate(host.files.read(PATHS.agentCert) ?? '');
      const identityUsable = cert !== undefined && cert.notAfter.getTime() > now.getTime();
      if (identityUsable) {
        host.files.remove(PATHS.agentCert);
        host.files.remove(PATHS.agentKey);
        host.unit(UNITS.nodeAgent)?.restart(now);
      }
      return { fault: fault.fault, node_id: host.nodeId, identity_removed: identityUsable };
    }
    case 'agent_stopped': {
      const host = workerHost(rt, fault.node_id);
      host.unit(UNITS.nodeAgent)?.stop(now);
      return { fault: fault.fault, node_id: host.nodeId };
    }
  }
}

function workerHost(rt: AppRuntime, nodeId: string) {
  const host = rt.host(nodeId);
  if (!host?.isWorker) throw new FaultError(`no worker_compute host ${nodeId}`);
  return host;
}
