import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { DiagSummary, GpuTable, KernelXidEvent } from '../../domain/gpu-observations';
import type { StepContext } from '../../domain/step-context';
import type { EvidenceStore } from '../evidence/evidence-store';
import type { HostAccess } from '../host-access';
import type { CommandResult } from '../ssh/ssh-executor';
import {
  bootIdCommand,
  DCGM_EXIT_DIAG_FAILED,
  DCGM_EXIT_ISOLATE,
  diagCommand,
  gpuTableCommand,
  kernelLogCommand,
  persistenceModeCommand,
  rebootCommand,
  resetGpuCommand,
} from './commands';
import { parseDcgmDiag } from './parse-dcgm-diag';
import { parseGpuTable } from './parse-gpu-table';
import { parseKernelXids } from './parse-kernel-xids';

export interface GpuObservations {
  table: GpuTable;
  xids: KernelXidEvent[];
}

/** Heartbeat at this period while a long command runs, so a dead worker is noticed. */
const HEARTBEAT_EVERY_MS = 2_000;

export function createGpuActivities(deps: { hosts: HostAccess; evidence: EvidenceStore }) {
  const { hosts, evidence } = deps;

  /** A mutating command runs at most once per idempotency key, even across retries. */
  async function runOnce(ctx: StepContext, action: Parameters<HostAccess['run']>[1], argv: string[], suffix: string): Promise<CommandResult> {
    const earlier = await evidence.findByKey<{ exit_code: number | null; stdout: string; stderr: string; command: string }>(
      `${ctx.idempotency_key}/cmd/${suffix}`,
    );
    if (earlier && earlier.exit_code === 0) {
      return { ...earlier, truncated: false, duration_ms: 0, disconnected: false };
    }
    return hosts.run(ctx, action, argv, { evidenceSuffix: suffix });
  }

  return {
    /** Reads the GPU table and the kernel's Xid lines; touches nothing. */
    async readGpuObservations(ctx: StepContext): Promise<GpuObservations> {
      const smi = await hosts.run(ctx, 'read_gpu_state', gpuTableCommand(), { evidenceSuffix: 'gpu_table' });
      const klog = await hosts.run(ctx, 'read_gpu_state', kernelLogCommand(), { evidenceSuffix: 'kernel_log' });
      if (klog.exit_code !== 0) {
        throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `reading the kernel log failed (exit ${klog.exit_code}): ${klog.stderr.slice(0, 300)}` });
      }
      return { table: parseGpuTable(smi.stdout, smi.stderr, smi.exit_code ?? -1), xids: parseKernelXids(klog.stdout) };
    },

    async setPersistenceMode(ctx: StepContext, gpuUuid: string, enabled: boolean): Promise<void> {
      const res = await runOnce(ctx, 'set_persistence_mode', persistenceModeCommand(gpuUuid, enabled), `persistence_${enabled ? 'on' : 'off'}`);
      if (res.exit_code !== 0) {
        throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `nvidia-smi -pm failed (exit ${res.exit_code}): ${(res.stderr || res.stdout).slice(0, 300)}` });
      }
    },

    async resetGpu(ctx: StepContext, gpuUuid: string): Promise<string> {
      const res = await runOnce(ctx, 'reset_gpu', resetGpuCommand(gpuUuid), 'reset_gpu');
      if (res.exit_code !== 0) {
        throw ApplicationFailure.create({
          type: ErrorType.CommandFailed,
          message: `GPU reset refused (exit ${res.exit_code}): ${(res.stderr || res.stdout).trim().slice(0, 300)}`,
          // A busy GPU may free up; a lost GPU or unsupported reset will not, and the
          // workflow escalates on either, so do not hammer the host.
          nonRetryable: true,
        });
      }
      return res.stdout.trim();
    },

    async readBootId(ctx: StepContext): Promise<string> {
      const res = await hosts.run(ctx, 'read_boot_id', bootIdCommand(), { evidenceSuffix: 'boot_id' });
      if (res.exit_code !== 0) throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `reading boot_id failed (exit ${res.exit_code})` });
      return res.stdout.trim();
    },

    /**
     * Reboots the host and waits for it to come back with a new boot id. Safe to
     * retry: when the boot id already differs from `previousBootId`, the reboot
     * happened and is not issued again.
     */
    async rebootHostAndWait(ctx: StepContext, previousBootId: string, timeoutMs: number, pollMs: number): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      const current = await bootIdOrNull(ctx);
      if (current && current !== previousBootId) return current;
      if (current === previousBootId) {
        await hosts.run(ctx, 'reboot_host', rebootCommand(), { expectDisconnect: true, evidenceSuffix: 'reboot' });
      }
      for (;;) {
        heartbeat({ waiting_for: 'new boot id', previous_boot_id: previousBootId });
        await sleep(pollMs);
        const now = await bootIdOrNull(ctx);
        if (now && now !== previousBootId) return now;
        if (Date.now() > deadline) {
          throw ApplicationFailure.create({ type: ErrorType.RebootTimeout, message: `${ctx.node_id} did not come back within ${timeoutMs} ms`, nonRetryable: true });
        }
      }
    },

    /** Runs `dcgmi diag`, heartbeating while it runs; a failing diag is a result, not an error. */
    async runGpuDiag(ctx: StepContext, level: number): Promise<DiagSummary & { exit_code: number | null }> {
      const ticker = setInterval(() => heartbeat({ running: `dcgmi diag -r ${level}` }), HEARTBEAT_EVERY_MS);
      try {
        const res = await hosts.run(ctx, 'run_gpu_diag', diagCommand(level), { evidenceSuffix: `diag_r${level}` });
        const summary = parseDcgmDiag(res.stdout, res.exit_code ?? -1);
        const ranAndFailed = res.exit_code === DCGM_EXIT_DIAG_FAILED || res.exit_code === DCGM_EXIT_ISOLATE;
        if (summary.overall === 'error' && !ranAndFailed) {
          throw ApplicationFailure.create({
            type: ErrorType.CommandFailed,
            message: `dcgmi diag could not run (exit ${res.exit_code}): ${summary.runtime_error ?? res.stderr.slice(0, 300)}`,
          });
        }
        return { ...summary, level, exit_code: res.exit_code };
      } finally {
        clearInterval(ticker);
      }
    },
  };

  async function bootIdOrNull(ctx: StepContext): Promise<string | null> {
    try {
      const res = await hosts.run(ctx, 'read_boot_id', bootIdCommand(), { evidenceSuffix: `boot_id_${Date.now()}` });
      return res.exit_code === 0 ? res.stdout.trim() : null;
    } catch (e) {
      if (e instanceof ApplicationFailure && e.type === ErrorType.HostUnreachable) return null; // still rebooting
      throw e;
    }
  }
}

export type GpuActivities = ReturnType<typeof createGpuActivities>;
