import type { HostRole } from './host-roles';

/**
 * Carried by every activity call: who the call belongs to (for logs, spans and
 * evidence) and the idempotency key of the external effect it may cause.
 * The key is workflow id + run id + step, so a retried or replayed step reuses it
 * and a later run of the same workflow id never collides with an earlier one.
 */
export interface StepContext {
  workflow_id: string;
  run_id: string;
  runbook: string;
  correlation_id: string;
  step: string;
  idempotency_key: string;
  node_id?: string;
  host_name?: string;
  host_role?: HostRole;
}
