import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { ErrorType } from '../../domain/errors';
import type { StepContext } from '../../domain/step-context';
import { gpuTableCommand } from '../gpu/commands';
import { parseGpuTable } from '../gpu/parse-gpu-table';
import type { HostAccess } from '../host/host-access';
import { stepLogger } from '../observability';
import { gpuProcessesCommand, processesCommand, signalCommand } from './commands';
import { parseGpuProcesses } from './parse-gpu-processes';
import { isWorkerOf, parseProcesses, type HostProcess } from './parse-processes';

/** A pool worker as first seen: a later process with the same PID but another start or argv is not it. */
export interface PoolWorkerProcess {
  pid: number;
  started: string;
  args: string;
  rss_kib: number;
}

export interface PoolProcesses {
  /** PIDs the orchestrator named that run this pool's worker now. */
  workers: PoolWorkerProcess[];
  /** PIDs the orchestrator named that run something else (a PID reused since): never signalled. */
  foreign: HostProcess[];
  /** PIDs the orchestrator named that no longer exist. */
  gone: number[];
}

export interface SignalResult {
  signal: 'TERM' | 'KILL';
  signalled: number[];
  /** Exited before the signal (or between the check and the signal). */
  gone: number[];
  /** Their PID now belongs to another process: left alone. */
  reused: { pid: number; now: string }[];
}

export interface GoneResult {
  gone: boolean;
  remaining: number[];
  waited_ms: number;
}

export interface HostGpuMemory {
  gpus: { index: number; uuid: string; used_mib: number | null; total_mib: number | null; used_pct: number | null }[];
  processes: { pid: number; gpu_index: number | null; used_mib: number | null }[];
}

/**
 * A pool's worker processes on its GPU host (ctx.node_id), over SSH: read by PID,
 * signalled only after each PID is checked again to be the same process (start
 * time and argv), so a PID reused by another process is never signalled.
 */
export function createPoolProcessActivities(deps: { hosts: HostAccess; logger: Logger }) {
  const { hosts } = deps;

  async function processes(ctx: StepContext, pids: readonly number[], record = true): Promise<HostProcess[]> {
    if (pids.length === 0) return [];
    const res = await hosts.run(ctx, 'read_pool_processes', processesCommand(pids), { evidenceSuffix: 'ps', record });
    // ps exits 1 when none of the PIDs exists.
    if (res.exit_code !== 0 && !(res.exit_code === 1 && res.stdout.trim() === '')) {
      throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `ps on ${ctx.node_id}: ${res.stderr.trim() || `exit ${res.exit_code}`}` });
    }
    return parseProcesses(res.stdout);
  }

  /** Which of `expected` still run as the same process; the rest are gone or reused. */
  async function stillRunning(ctx: StepContext, poolId: string, expected: readonly PoolWorkerProcess[], record = true) {
    const now = await processes(
      ctx,
      expected.map((w) => w.pid),
      record,
    );
    const same: PoolWorkerProcess[] = [];
    const gone: number[] = [];
    const reused: { pid: number; now: string }[] = [];
    for (const w of expected) {
      const p = now.find((x) => x.pid === w.pid);
      if (!p) gone.push(w.pid);
      else if (p.started === w.started && isWorkerOf(p, poolId)) same.push(w);
      else reused.push({ pid: w.pid, now: `${p.user} ${p.args}` });
    }
    return { same, gone, reused };
  }

  return {
    async readPoolProcesses(ctx: StepContext, poolId: string, pids: number[]): Promise<PoolProcesses> {
      const found = await processes(ctx, pids);
      return {
        workers: found.filter((p) => isWorkerOf(p, poolId)).map(({ pid, started, args, rss_kib }) => ({ pid, started, args, rss_kib })),
        foreign: found.filter((p) => !isWorkerOf(p, poolId)),
        gone: pids.filter((pid) => !found.some((p) => p.pid === pid)),
      };
    },

    /** `kill -s SIGNAL` to those of `workers` that are still the same processes; idempotent (a gone one counts as done). */
    async signalPoolWorkers(ctx: StepContext, poolId: string, workers: PoolWorkerProcess[], signal: 'TERM' | 'KILL'): Promise<SignalResult> {
      const { same, gone, reused } = await stillRunning(ctx, poolId, workers);
      const result: SignalResult = { signal, signalled: [], gone, reused };
      if (same.length === 0) return result;
      const res = await hosts.run(
        ctx,
        'signal_pool_workers',
        signalCommand(
          signal,
          same.map((w) => w.pid),
        ),
        { evidenceSuffix: `kill_${signal.toLowerCase()}` },
      );
      // bash's kill: one "No such process" line per PID that exited since the check.
      const exited = [...res.stderr.matchAll(/\((\d+)\) - No such process/g)].map((m) => Number(m[1]));
      const other = res.stderr
        .split('\n')
        .filter((l) => l.trim() && !/No such process/.test(l))
        .join('; ');
      if (other) throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `kill -s ${signal} on ${ctx.node_id}: ${other}` });
      result.signalled = same.map((w) => w.pid).filter((pid) => !exited.includes(pid));
      result.gone.push(...exited);
      stepLogger(deps.logger, ctx).warn({ pool_id: poolId, signal, pids: result.signalled, reused: result.reused }, 'pool workers signalled');
      return result;
    },

    /** Polls until none of `workers` runs (a reused PID counts as gone), or the timeout; heartbeats every poll. */
    async waitPoolWorkersGone(ctx: StepContext, poolId: string, workers: PoolWorkerProcess[], timeoutMs: number, pollMs: number): Promise<GoneResult> {
      const started = Date.now();
      for (;;) {
        const { same } = await stillRunning(ctx, poolId, workers, false);
        const waited = Date.now() - started;
        heartbeat({ remaining: same.length, waited_ms: waited });
        if (same.length === 0) return { gone: true, remaining: [], waited_ms: waited };
        if (waited >= timeoutMs) return { gone: false, remaining: same.map((w) => w.pid), waited_ms: waited };
        await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)));
      }
    },

    /** GPU memory per GPU (nvidia-smi) and every process holding some (NVML's compute apps). */
    async readHostGpuMemory(ctx: StepContext): Promise<HostGpuMemory> {
      const table = await hosts.run(ctx, 'read_gpu_state', gpuTableCommand(), { evidenceSuffix: 'gpus' });
      const parsed = parseGpuTable(table.stdout, table.stderr, table.exit_code ?? -1);
      const apps = await hosts.run(ctx, 'read_gpu_state', gpuProcessesCommand(), { evidenceSuffix: 'gpu_processes' });
      if (apps.exit_code !== 0)
        throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `nvidia-smi compute apps on ${ctx.node_id}: ${apps.stderr.trim()}` });
      const num = (c: unknown) => (typeof c === 'number' ? c : null);
      const gpus = parsed.gpus.map((g) => {
        const used = num(g.memory_used_mib);
        const total = num(g.memory_total_mib);
        return {
          index: g.index,
          uuid: g.uuid,
          used_mib: used,
          total_mib: total,
          used_pct: used !== null && total ? Math.round((used / total) * 1000) / 10 : null,
        };
      });
      const processes = parseGpuProcesses(apps.stdout).map((p) => ({
        pid: p.pid,
        gpu_index: gpus.find((g) => g.uuid === p.gpu_uuid)?.index ?? null,
        used_mib: p.used_mib,
      }));
      return { gpus, processes };
    },
  };
}

export type PoolProcessActivities = ReturnType<typeof createPoolProcessActivities>;
