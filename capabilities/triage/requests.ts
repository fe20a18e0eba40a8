/**
 * The LogQL seed 000 runs for one correlation_id, as pure data (plan mode and the
 * report show the very queries the activities send). Values are quoted as LogQL
 * strings; the input schema already keeps ids to a safe alphabet.
 */
import type { HostRole } from '../../domain/host-roles';
import { ENGINE_LOG_JOB } from '../../domain/incident-evidence';

export interface NamedQuery {
  /** `api`, `engine` (this runbook engine's own lines), or the host role the query reads. */
  name: 'api' | 'engine' | HostRole;
  logql: string;
}

/** A LogQL double-quoted string. */
export function logqlString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * Seed 000's correlation-first queries: the API by service, then each host role's
 * stack; and what the runbook engine itself did under that id (its lines name the
 * host they acted on in their fields, never as a stream's host_role).
 */
export function correlationQueries(correlationId: string): NamedQuery[] {
  const id = logqlString(correlationId);
  return [
    { name: 'api', logql: `{service="gpuaas-api"} | json | correlation_id=${id}` },
    { name: 'app_control', logql: `{host_role="app_control"} | json | correlation_id=${id}` },
    { name: 'worker_compute', logql: `{host_role="worker_compute"} | json | correlation_id=${id}` },
    { name: 'platform_control', logql: `{host_role="platform_control"} | json | correlation_id=${id}` },
    { name: 'engine', logql: `{job=${logqlString(ENGINE_LOG_JOB)}} | json | correlation_id=${id}` },
  ];
}

/** Error lines of one service in a window, whatever their correlation: those that lost the id show up here. */
export function serviceErrorsQuery(service: string): string {
  return `{service=${logqlString(service)}} | json | level=~"error|fatal"`;
}

/** Error lines of one host role in a window, whatever their correlation. */
export function roleErrorsQuery(role: HostRole): string {
  return `{host_role=${logqlString(role)}} | json | level=~"error|fatal"`;
}
