import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { ErrorType } from '../../domain/errors';
import { hostRoleViolation } from '../../domain/host-role-rules';
import { isActionAllowed, type HostAction } from '../../domain/host-roles';
import { findHost, type Inventory, type InventoryHost } from '../../domain/inventory';
import type { StepContext } from '../../domain/step-context';
import { activityCancellationSignal } from '../cancellation';
import type { EvidenceStore } from '../evidence/evidence-store';
import { currentTraceId, stepLogger } from '../observability';
import type { CommandResult, ExecOptions, SshExecutor } from './ssh-executor';

/** Output kept in evidence per stream; the full output stays on the host. */
const EVIDENCE_OUTPUT_CHARS = 4000;

export interface HostAccessDeps {
  inventory: Inventory;
  ssh: SshExecutor;
  evidence: EvidenceStore;
  logger: Logger;
}

/**
 * The only way activities reach a host: looks the node up in the inventory,
 * refuses actions the host's role does not allow (before any connection),
 * runs the command over pinned SSH and records it as evidence.
 */
export class HostAccess {
  constructor(private readonly deps: HostAccessDeps) {}

  resolve(nodeId: string, action: HostAction): InventoryHost {
    const host = findHost(this.deps.inventory, nodeId);
    if (!host) {
      throw ApplicationFailure.create({ type: ErrorType.HostNotInInventory, message: `node ${nodeId} is not in the inventory`, nonRetryable: true });
    }
    if (!isActionAllowed(action, host.role)) throw hostRoleViolation(action, host);
    return host;
  }

  /** Step context enriched with the host's identity, for logs and evidence. */
  withHost(ctx: StepContext, host: InventoryHost): StepContext {
    return { ...ctx, node_id: host.node_id, host_name: host.hostname, host_role: host.role };
  }

  async run(
    ctx: StepContext,
    action: HostAction,
    argv: readonly string[],
    opts: ExecOptions & { evidenceSuffix?: string; record?: boolean } = {},
  ): Promise<CommandResult> {
    const host = this.resolve(ctx.node_id ?? '', action);
    const hctx = this.withHost(ctx, host);
    const log = stepLogger(this.deps.logger, hctx);
    const signal = opts.signal ?? activityCancellationSignal();
    // Status polls of a host job are many and say little; they are logged, not kept as evidence.
    const record = opts.record ?? true;
    log[record ? 'info' : 'debug']({ action, argv }, 'running command');
    const result = await this.deps.ssh.exec(host, argv, { ...opts, signal });
    log[record ? 'info' : 'debug']({ action, exit_code: result.exit_code, duration_ms: result.duration_ms, truncated: result.truncated }, 'command finished');
    if (record) await this.recordCommand(hctx, `${ctx.idempotency_key}/cmd/${opts.evidenceSuffix ?? action}`, result);
    return result;
  }

  /**
   * Keeps a command's result (exit code, output, trace id) as evidence under `key`.
   * Output is trimmed unless `fullOutput`: a host job's record is also its
   * result for a retried attempt, which must parse it again.
   */
  async recordCommand(hctx: StepContext, key: string, result: CommandResult, fullOutput = false): Promise<void> {
    const keep = fullOutput ? (s: string) => s : trim;
    await this.deps.evidence.record(hctx, {
      idempotency_key: key,
      kind: 'command',
      summary: `${result.command} → exit ${result.exit_code ?? 'disconnected'}`,
      trace_id: currentTraceId(),
      data: {
        command: result.command,
        exit_code: result.exit_code,
        duration_ms: result.duration_ms,
        truncated: result.truncated,
        stdout: keep(result.stdout),
        stderr: keep(result.stderr),
      },
    });
  }
}

function trim(s: string): string {
  return s.length <= EVIDENCE_OUTPUT_CHARS ? s : `${s.slice(0, EVIDENCE_OUTPUT_CHARS)}\n… [${s.length - EVIDENCE_OUTPUT_CHARS} more characters]`;
}
