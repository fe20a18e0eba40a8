/**
 * What dlq-replay's tests and its history recorder set up, as an operator and a
 * producer would, through the lab's admin API and its real SSH: a DLQ storm from a
 * missing model artifact, and the fix (the artifact copied back from the pull cache).
 */
import { quote } from 'shell-quote';
import { findHost, type Inventory } from '../../../domain/inventory';
import { ORCHESTRATOR_DLQ } from '../../../domain/orchestrator';
import { run } from '../../../test/lab/support';
import { eventually } from '../../../test/support/harness';

export const MODEL = 'llama-3-8b';
export const ARTIFACT = `/var/lib/gpu-orchestrator/models/${MODEL}/model.safetensors`;
/** Where the lab's GPU hosts keep the pulled copy (seed 004's pull cache). */
export const CACHED = `/var/cache/gpu-orchestrator/models/${MODEL}/model.safetensors`;

export interface LabAccess {
  platformUrl: string;
  platformToken: string;
  inventory: Inventory;
  clientKeyPath: string;
}

export interface RedisCommand {
  args: string[];
  client_name: string | null;
}

export function orchestratorDriver(lab: LabAccess) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(new URL(path, lab.platformUrl), {
      method,
      headers: { authorization: `Bearer ${lab.platformToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const state = () => call<{ replicas: { url: string | null; is_leader: boolean }[] }>('GET', '/lab/v1/orchestrator/state');
  /** One gauge from the first replica that answers /metrics. */
  const gauge = async (name: string): Promise<number | undefined> => {
    for (const r of (await state()).replicas) {
      if (!r.url) continue;
      const text = await fetch(`${r.url}/metrics`).then(
        (res) => (res.ok ? res.text() : ''),
        () => '',
      );
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
      if (m) return Number(m[1]);
    }
    return undefined;
  };
  const driver = {
    reset: () => call('POST', '/lab/v1/reset', {}),
    fault: (name: string, body: object = {}) =>
      call<{ applied: Record<string, unknown> }>('POST', `/lab/v1/orchestrator/faults/${name}`, body).then((r) => r.applied),
    addJobs: (prefix: string, count: number) => call<{ jobs: { job_id: string }[] }>('POST', '/lab/v1/orchestrator/jobs', { prefix, count, model: MODEL }),
    records: async () => (await call<{ redis_commands: RedisCommand[] }>('GET', '/lab/v1/orchestrator/records')).redis_commands,
    gauge,
    async waitLeader() {
      await eventually(async () => ((await state()).replicas.some((r) => r.is_leader) ? true : undefined), 'an orchestrator leader');
    },
    async sh(nodeId: string, argv: string[]) {
      const host = findHost(lab.inventory, nodeId);
      if (!host) throw new Error(`${nodeId} is not in the lab's inventory`);
      return run(host, lab.clientKeyPath, quote(argv));
    },
    /** The model artifact removed from the GPU hosts, then `count` jobs for it: all of them dead-lettered. Returns the hosts it is gone from. */
    async storm(prefix: string, count: number): Promise<string[]> {
      await driver.waitLeader();
      const applied = await driver.fault('missing_model_artifact', { model: MODEL });
      await driver.addJobs(prefix, count);
      await eventually(async () => ((await gauge('gpu_orchestrator_dlq_length')) === count ? true : undefined), `${count} jobs in ${ORCHESTRATOR_DLQ}`);
      return applied.removed_from as string[];
    },
    /** The operator's fix: the artifact copied back from the pull cache on every host it is gone from. */
    async restoreArtifact(nodeIds: string[]): Promise<void> {
      for (const node of nodeIds) {
        const r = await driver.sh(node, ['install', '-D', '-m', '0644', CACHED, ARTIFACT]);
        if (r.code !== 0) throw new Error(`restoring ${ARTIFACT} on ${node}: ${r.stderr}`);
      }
    },
  };
  return driver;
}

export type OrchestratorDriver = ReturnType<typeof orchestratorDriver>;

/** The replays the record shows: every XADD to the job stream that carries replay_of, by the DLQ id it names. */
export function replaysIn(records: RedisCommand[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of records) {
    if (r.args[0]?.toUpperCase() !== 'XADD') continue;
    const i = r.args.indexOf('replay_of');
    if (i < 0) continue;
    const id = r.args[i + 1]!;
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

export const isCommand = (r: RedisCommand, ...words: string[]) => words.every((w, i) => r.args[i]?.toUpperCase() === w);
