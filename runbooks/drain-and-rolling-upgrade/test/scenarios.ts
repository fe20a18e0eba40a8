/**
 * What drain-and-rolling-upgrade's tests and its history recorder share: the
 * run's input, starting it, deciding its approval, adding jobs as a producer
 * would, and reading the orchestrator's own state (versions, maintenance, jobs).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { withOrchestratorDb, type DbValue } from '../../../capabilities/orchestrator/orchestrator-db';
import { approvalSignal, statusQuery } from '../../../domain/messages';
import type { OrchestratorCluster } from '../../../domain/orchestrator';
import type { RunStatus } from '../../../domain/runbook';
import { eventually, type Stack } from '../../../test/support/harness';
import { rollingUpgradeWorkflowId, type RollingUpgradeRequest } from '../input';

export const TARGET_VERSION = '2.4.0';
export const PREVIOUS_VERSION = '2.3.1';

/** Short waits for the lab at timeScale 0.002; the window open around now, the database backup an hour old. */
export function upgradeInput(over: Partial<RollingUpgradeRequest> = {}): RollingUpgradeRequest {
  const now = Date.now();
  return {
    cluster: 'lab',
    target_version: TARGET_VERSION,
    window_start: new Date(now - 10 * 60_000).toISOString(),
    window_end: new Date(now + 2 * 3_600_000).toISOString(),
    db_backup_at: new Date(now - 3_600_000).toISOString(),
    drain_timeout: '30s',
    replica_timeout: '30s',
    pool_timeout: '30s',
    verify_timeout: '30s',
    approval_timeout: '2m',
    poll_interval: '50ms',
    ...over,
  };
}

export async function startUpgrade(s: Stack, taskQueue: string, over: Partial<RollingUpgradeRequest> = {}): Promise<WorkflowHandle> {
  return s.client.workflow.start('drainAndRollingUpgrade', {
    taskQueue,
    workflowId: `${rollingUpgradeWorkflowId('lab')}/${Date.now()}`,
    args: [upgradeInput(over)],
  });
}

/** The run's status; undefined until its first workflow task has registered the query. */
export async function statusOf(handle: WorkflowHandle): Promise<RunStatus | undefined> {
  try {
    return await handle.query(statusQuery);
  } catch (err) {
    if ((err as Error).name === 'QueryNotRegisteredError') return undefined;
    throw err;
  }
}

export async function waitForApproval(handle: WorkflowHandle, step: string): Promise<RunStatus> {
  return eventually(async () => {
    const st = await statusOf(handle);
    return st?.pending_approval?.step === step ? st : undefined;
  }, `approval ${step}`);
}

/** The on-call approver's decision, by signal. */
export async function decide(handle: WorkflowHandle, step: string, decision: 'approve' | 'reject'): Promise<void> {
  const pending = (await waitForApproval(handle, step)).pending_approval!;
  await handle.signal(approvalSignal, { decision, actor: 'sre-oncall', reason: `test ${decision}`, approval_id: pending.id });
}

/** Until the run has started the step named `step`. */
export async function waitForStep(handle: WorkflowHandle, step: string): Promise<void> {
  await eventually(async () => ((await statusOf(handle))?.steps.some((x) => x.name === step) ? true : undefined), `step ${step}`, 60_000, 20);
}

/** Jobs as a producer adds them (the lab's XADD); returns their ids. */
export async function addJobs(
  lab: { platformUrl: string; platformToken: string },
  prefix: string,
  count: number,
  model: 'llama-3-8b' | 'mistral-7b' = 'llama-3-8b',
): Promise<string[]> {
  const res = await fetch(new URL('/lab/v1/orchestrator/jobs', lab.platformUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${lab.platformToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ count, prefix, model }),
  });
  if (!res.ok) throw new Error(`adding jobs: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { jobs: { job_id: string }[] }).jobs.map((j) => j.job_id);
}

/** Every replica's /health, by node. */
export async function replicaHealth(cluster: OrchestratorCluster): Promise<Record<string, { status: string; version: string } | null>> {
  const out: Record<string, { status: string; version: string } | null> = {};
  for (const r of cluster.replicas) {
    out[r.node_id] = await fetch(new URL('/health', r.api_url))
      .then((res) => res.json() as Promise<{ status: string; version: string }>)
      .then((h) => ({ status: h.status, version: h.version }))
      .catch(() => null);
  }
  return out;
}

/** Until some replica leads (after a lab reset the replicas elect within a round or two). */
export async function waitForLeader(cluster: OrchestratorCluster): Promise<string> {
  return eventually(async () => {
    for (const r of cluster.replicas) {
      const s = await fetch(new URL('/status/leader', r.api_url))
        .then((res) => (res.ok ? (res.json() as Promise<{ leader: { node_id: string } | null }>) : null))
        .catch(() => null);
      if (s?.leader) return s.leader.node_id;
    }
    return undefined;
  }, 'a leader');
}

/** A read of the orchestrator's own SQL database (the cluster's db_url), through the engine's own connection. */
export function querySql(cluster: OrchestratorCluster, text: string, params: DbValue[] = []): Promise<Record<string, unknown>[]> {
  return withOrchestratorDb(cluster, 'a test read', (db) => db.query(text, params));
}

export async function maintenanceMode(cluster: OrchestratorCluster): Promise<string> {
  const rows = await querySql(cluster, "SELECT value FROM orchestrator_control WHERE name = 'maintenance_mode'");
  return String(rows[0]?.value ?? 'normal');
}
