/**
 * The lab's observability backend in one part: the log store (Loki's role) and
 * the trace store (Tempo's), which host runs which role, and a writer per
 * service that stamps its stream labels. Reset with the rest of the world.
 */
import type { HostRole } from '../../domain/host-roles';
import type { LabPart } from '../world';
import { LabLogStore, type LogFields } from './log-store';
import { LabTraceStore } from './trace-store';

export type ServiceLogWriter = (fields: LogFields, at?: Date) => void;

export interface LabObservabilityOptions {
  /** The lab's hosts: node id (= host name) and role. */
  hosts: readonly { node_id: string; role: HostRole }[];
  logCap?: number;
  spanCap?: number;
}

export class LabObservability implements LabPart {
  readonly logs: LabLogStore;
  readonly traces: LabTraceStore;
  /** The first host of each role (dev-control-1, dev-lab-1, dev-gpu-1). */
  readonly hostsByRole: Record<HostRole, string>;
  private readonly roles: Map<string, HostRole>;
  /** Starts a process on a host outside any unit (the app runtime's); set once the lab has one. */
  startProcess?: (nodeId: string, user: string, args: string) => { pid: number };

  constructor(opts: LabObservabilityOptions) {
    this.logs = new LabLogStore(opts.logCap);
    this.traces = new LabTraceStore(opts.spanCap);
    this.roles = new Map(opts.hosts.map((h) => [h.node_id, h.role]));
    const first = (role: HostRole) => {
      const host = opts.hosts.find((h) => h.role === role);
      if (!host) throw new Error(`the lab has no ${role} host`);
      return host.node_id;
    };
    this.hostsByRole = { platform_control: first('platform_control'), app_control: first('app_control'), worker_compute: first('worker_compute') };
  }

  roleOf(nodeId: string): HostRole | undefined {
    return this.roles.get(nodeId);
  }

  /** How `service` on `hostName` writes its lines: its stream labels are fixed here, the line is its own. */
  writer(service: string, hostName: string): ServiceLogWriter {
    const labels = { service, host_name: hostName, host_role: this.roles.get(hostName) };
    return (fields, at) => this.logs.write(labels, fields, at);
  }

  reset(): void {
    this.logs.clear();
    this.traces.clear();
  }

  stop(): void {}
}
