/**
 * The fault `previous_release_with_jobs`: the orchestrator as a weekly upgrade drill
 * should find staging, whatever last week's drill left. Every replica runs
 * `from_version` (put there by the fleet's own package step, installer.ts, which
 * restarts the unit: a replica already on it is left alone), a leader serves, and
 * work is in flight: one job on every idle worker (long, with `long_jobs`' job_ms),
 * then `queued` more that no worker is free to take, so a drain has leases and
 * pending entries to wait for and entries the leader has not read yet.
 */
import { installOrchestrator } from './installer';
import { MODELS, UNIT, type OrchestratorLab } from './orchestrator-lab';
import { parseEnvFile } from '../app-runtime/host-files';
import { ORCHESTRATOR_ENV } from './programs';

export interface PreviousReleaseFault {
  from_version: string;
  queued: number;
  /** Job ids are PREFIX-1 ... (default: one of its own per injection, so a repeated drill adds new jobs). */
  prefix?: string;
}

/** Wall ms the fault waits for the replicas to serve again and for its jobs to be taken; under the drill's 15 s request timeout. */
const SETTLE_MS = 12_000;

export class PreviousReleaseError extends Error {}

export async function stagePreviousRelease(lab: OrchestratorLab, f: PreviousReleaseFault): Promise<Record<string, unknown>> {
  const pinned: string[] = [];
  for (const nodeId of lab.replicaNodes) {
    const host = lab.host(nodeId);
    if (installedVersion(lab, nodeId) === f.from_version) continue;
    // The package step itself, without its fetch time: the scene is set, not rehearsed, and it is not the engine's doing.
    const result = installOrchestrator(host, [f.from_version], UNIT, () => false).finish();
    if (result.exitCode !== 0) throw new PreviousReleaseError(`pinning ${nodeId} to ${f.from_version}: ${result.stderr.trim()}`);
    pinned.push(nodeId);
  }
  await settle(
    () => lab.replicaNodes.every((n) => lab.processes.get(n)?.ready && lab.processes.get(n)?.version === f.from_version) && lab.leader() !== undefined,
    `every replica serving ${f.from_version} with a leader`,
  );

  const prefix = f.prefix ?? `upgrade-drill-${Date.now().toString(36)}`;
  let n = 0;
  const add = async (model: string) => {
    const job_id = `${prefix}-${++n}`;
    await lab.addJob({ job_id, model });
    return job_id;
  };
  const running: string[] = [];
  for (const { pool } of lab.pools.idleWorkers()) running.push(await add(pool.model));
  await settle(() => {
    const busy = new Set(lab.pools.list().flatMap((p) => p.workers.map((w) => w.job?.jobId)));
    return running.every((id) => busy.has(id));
  }, `${running.length} job(s) taken by the workers`);
  // Every worker is busy now: these wait in the stream, unread, for one to be free.
  const models = lab.pools.runningModels();
  const queued: string[] = [];
  for (let i = 0; i < f.queued; i++) queued.push(await add(models[i % models.length] ?? MODELS[0]));
  return { from_version: f.from_version, pinned, leader: lab.leader()?.nodeId, running, queued };
}

function installedVersion(lab: OrchestratorLab, nodeId: string): string | undefined {
  return parseEnvFile(lab.host(nodeId).files.read(ORCHESTRATOR_ENV) ?? '').get('ORCHESTRATOR_VERSION');
}

async function settle(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + SETTLE_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new PreviousReleaseError(`not settled within ${SETTLE_MS} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
