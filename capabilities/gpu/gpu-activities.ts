import { activityInfo, heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Lease } from '../../domain/disruption';
import { ErrorType } from '../../domain/errors';
import { citeRule, GPU_VALIDATION_RULE } from '../../domain/host-role-rules';
import { diagBudgetMs, HOST_COMMAND_BUDGET_MS } from '../../domain/host-command-budgets';
import type { DiagSummary, GpuTable, KernelXidEvent } from '../../domain/gpu-observations';
import type { StepContext } from '../../domain/step-context';
import type { AuthorizedHost, HostAccess } from '../host/host-access';
import type { HostJobs } from '../host/host-jobs';
import type { CommandResult } from '../host/ssh-executor';
import {
  bootIdCommand,
  DCGM_EXIT_ALREADY_RUNNING,
  DCGM_EXIT_DIAG_FAILED,
  DCGM_EXIT_ISOLATE,
  diagCommand,
  gpuTableCommand,
  KERNEL_LOG_MAX_LINES,
  kernelLogCommand,
  persistenceModeCommand,
  rebootCommand,
  resetGpuCommand,
} from './commands';
import { grepUnsupported, newerThan, newestTimestamp, sinceArgument, type KernelLogCursor } from './kernel-log-window';
import { parseDcgmDiag } from './parse-dcgm-diag';
import { parseGpuTable } from './parse-gpu-table';
import { parseKernelXids } from './parse-kernel-xids';

export interface GpuObservations {
  table: GpuTable;
  /** Xid events newer than what the node's last completed remediation handled. */
  xids: KernelXidEvent[];
  boot_id: string;
  /** Where this read ends: a later read (or run) with it sees only newer Xids. */
  cursor: KernelLogCursor;
  kernel_log: {
    since: string | null;
    lines_read: number;
    /** The line limit was reached: older NVRM lines of this window were not read (newest kept). */
    older_lines_dropped: boolean;
  };
}

function noMatches(res: CommandResult): boolean {
  return res.exit_code === 1 && res.stdout.trim() === '' && res.stderr.trim() === '';
}

/** Host-job poll period when the caller gives none (runs started before host jobs existed). */
const DEFAULT_POLL_MS = 5_000;

export interface GpuActivityDeps {
  hosts: HostAccess;
  jobs: HostJobs;
  /** Who holds the node's own disruption scope now (its ledger). */
  nodeHolders: (nodeId: string) => Promise<Lease[]>;
}

export function createGpuActivities(deps: GpuActivityDeps) {
  const { hosts, jobs } = deps;

  /**
   * GPU validation is serialized per worker (seed 002): a diag starts only for the
   * run that holds the node's own scope, cap 1, so no two runs validate one node at
   * once and a diag never runs on a node in service.
   */
  async function requireValidationSlot(ctx: StepContext): Promise<void> {
    const run = activityInfo().workflowExecution?.workflowId ?? 'an activity outside any run';
    const holders = await deps.nodeHolders(ctx.node_id ?? '');
    if (holders.some((h) => h.holder === run)) return;
    const others = holders.map((h) => h.holder).join(', ') || 'nobody';
    throw ApplicationFailure.create({
      type: ErrorType.HostRoleViolation,
      message: `dcgmi diag refused on ${ctx.node_id}: ${run} does not hold node/${ctx.node_id} (held by ${others}); ${citeRule(GPU_VALIDATION_RULE)}`,
      nonRetryable: true,
      details: [{ node_id: ctx.node_id, action: 'run_gpu_diag', rule: GPU_VALIDATION_RULE.id, holders: holders.map((h) => h.holder) }],
    });
  }

  async function readKernelLog(host: AuthorizedHost, since: string | undefined): Promise<CommandResult> {
    let res = await host.run('read_gpu_state', kernelLogCommand(since), { evidenceSuffix: 'kernel_log' });
    if (res.exit_code !== 0 && grepUnsupported(res.stderr)) {
      res = await host.run('read_gpu_state', kernelLogCommand(since, false), { evidenceSuffix: 'kernel_log_nogrep' });
    }
    // journalctl (systemd >= 243) exits 1 when --grep matches nothing; with -q it prints nothing.
    if (noMatches(res)) return { ...res, exit_code: 0 };
    if (res.exit_code !== 0) {
      throw ApplicationFailure.create({
        type: ErrorType.CommandFailed,
        message: `reading the kernel log failed (exit ${res.exit_code}): ${res.stderr.slice(0, 300)}`,
      });
    }
    if (res.truncated) {
      // A cut log can hide the newest Xid: never read it as "no fault".
      throw ApplicationFailure.create({
        type: ErrorType.OutputTruncated,
        message: `the kernel log window exceeded the SSH output cap (${KERNEL_LOG_MAX_LINES} lines requested); raise SSH_OUTPUT_LIMIT_BYTES`,
        nonRetryable: true,
      });
    }
    return res;
  }

  async function readBootIdOf(host: AuthorizedHost): Promise<string> {
    const res = await host.run('read_boot_id', bootIdCommand(), { evidenceSuffix: 'boot_id' });
    if (res.exit_code !== 0) throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `reading boot_id failed (exit ${res.exit_code})` });
    return res.stdout.trim();
  }

  return {
    /**
     * Reads the GPU table and the kernel's Xid lines; touches nothing. Only Xids
     * after `after` (same boot) count, so what an earlier completed remediation
     * handled does not trigger again.
     */
    async readGpuObservations(ctx: StepContext, after: KernelLogCursor | null = null): Promise<GpuObservations> {
      const host = hosts.authorize(ctx, 'read_gpu_state');
      const bootId = await readBootIdOf(host);
      const through = after && after.boot_id === bootId ? after.through : undefined;
      const smi = await host.run('read_gpu_state', gpuTableCommand(), { evidenceSuffix: 'gpu_table' });
      const since = through === undefined ? undefined : sinceArgument(through);
      const klog = await readKernelLog(host, since);
      const lines = klog.stdout.split('\n').filter((l) => l.trim() !== '').length;
      const xids = newerThan(parseKernelXids(klog.stdout), through);
      return {
        table: parseGpuTable(smi.stdout, smi.stderr, smi.exit_code ?? -1),
        xids,
        boot_id: bootId,
        cursor: { boot_id: bootId, through: newestTimestamp(xids, through) ?? '' },
        kernel_log: { since: since ?? null, lines_read: lines, older_lines_dropped: lines >= KERNEL_LOG_MAX_LINES },
      };
    },

    async setPersistenceMode(ctx: StepContext, gpuUuid: string, enabled: boolean, pollMs = DEFAULT_POLL_MS): Promise<void> {
      const res = await jobs.run(ctx, {
        name: `persistence_${enabled ? 'on' : 'off'}`,
        action: 'set_persistence_mode',
        argv: persistenceModeCommand(gpuUuid, enabled),
        timeoutMs: HOST_COMMAND_BUDGET_MS.persistence_mode,
        pollMs,
      });
      if (res.exit_code !== 0) {
        throw ApplicationFailure.create({
          type: ErrorType.CommandFailed,
          message: `nvidia-smi -pm failed (exit ${res.exit_code}): ${(res.stderr || res.stdout).slice(0, 300)}`,
        });
      }
    },

    async resetGpu(ctx: StepContext, gpuUuid: string, pollMs = DEFAULT_POLL_MS): Promise<string> {
      const res = await jobs.run(ctx, {
        name: 'reset_gpu',
        action: 'reset_gpu',
        argv: resetGpuCommand(gpuUuid),
        timeoutMs: HOST_COMMAND_BUDGET_MS.reset_gpu,
        pollMs,
      });
      if (res.exit_code !== 0) {
        throw ApplicationFailure.create({
          type: ErrorType.ResetRefused,
          message: `GPU reset refused (exit ${res.exit_code}): ${(res.stderr || res.stdout).trim().slice(0, 300)}`,
          // The refusal is recorded; asking again gives the same answer. The
          // workflow falls back to a reboot, which clears what holds the GPU.
          nonRetryable: true,
        });
      }
      return res.stdout.trim();
    },

    async readBootId(ctx: StepContext): Promise<string> {
      return readBootIdOf(hosts.authorize(ctx, 'read_boot_id'));
    },

    /**
     * Reboots the host and waits for it to come back with a new boot id. Safe to
     * retry: when the boot id already differs from `previousBootId`, the reboot
     * happened and is not issued again.
     */
    async rebootHostAndWait(ctx: StepContext, previousBootId: string, timeoutMs: number, pollMs: number): Promise<string> {
      const host = hosts.authorize(ctx, 'reboot_host');
      const deadline = Date.now() + timeoutMs;
      const current = await bootIdOrNull(host);
      if (current && current !== previousBootId) return current;
      if (current === previousBootId) {
        await host.run('reboot_host', rebootCommand(), { expectDisconnect: true, evidenceSuffix: 'reboot' });
      }
      for (;;) {
        heartbeat({ waiting_for: 'new boot id', previous_boot_id: previousBootId });
        await sleep(pollMs);
        const now = await bootIdOrNull(host);
        if (now && now !== previousBootId) return now;
        if (Date.now() > deadline) {
          throw ApplicationFailure.create({
            type: ErrorType.RebootTimeout,
            message: `${ctx.node_id} did not come back within ${timeoutMs} ms`,
            nonRetryable: true,
          });
        }
      }
    },

    /**
     * Runs `dcgmi diag` as a host job: detached, so a level 3 diag (~15 min)
     * outlives the SSH command timeout, a dropped connection and a worker
     * restart, and a retry reattaches instead of launching a second diag. A
     * failing diag is a result, not an error.
     */
    async runGpuDiag(ctx: StepContext, level: number, pollMs = DEFAULT_POLL_MS): Promise<DiagSummary & { exit_code: number | null }> {
      await requireValidationSlot(ctx);
      const res = await jobs.run(ctx, {
        name: `diag_r${level}`,
        action: 'run_gpu_diag',
        argv: diagCommand(level),
        timeoutMs: diagBudgetMs(level),
        pollMs,
        // Another diag holds the GPUs: ours never starts a second one; it waits its turn.
        transient: (r) => (r.exit_code === DCGM_EXIT_ALREADY_RUNNING ? 'another dcgmi diag is running on the node; trying again later' : undefined),
      });
      const summary = parseDcgmDiag(res.stdout, res.exit_code ?? -1);
      const ranAndFailed = res.exit_code === DCGM_EXIT_DIAG_FAILED || res.exit_code === DCGM_EXIT_ISOLATE;
      if (summary.overall === 'error' && !ranAndFailed) {
        throw ApplicationFailure.create({
          type: ErrorType.DiagUnavailable,
          message: `dcgmi diag could not run (exit ${res.exit_code}): ${summary.runtime_error ?? res.stderr.slice(0, 300)}`,
          nonRetryable: true,
        });
      }
      return { ...summary, level, exit_code: res.exit_code };
    },
  };

  async function bootIdOrNull(host: AuthorizedHost): Promise<string | null> {
    try {
      const res = await host.run('read_boot_id', bootIdCommand(), { record: false });
      return res.exit_code === 0 ? res.stdout.trim() : null;
    } catch (e) {
      if (e instanceof ApplicationFailure && (e.type === ErrorType.HostUnreachable || e.type === ErrorType.CommandTimeout)) return null; // still rebooting
      throw e;
    }
  }
}

export type GpuActivities = ReturnType<typeof createGpuActivities>;
