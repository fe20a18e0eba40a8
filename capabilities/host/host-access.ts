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

export type HostCommandOptions = ExecOptions & { evidenceSuffix?: string; record?: boolean };

/**
 * The only way activities reach a host: looks the node up in the inventory,
 * refuses actions the host's role does not allow (before any connection),
 * runs the command over pinned SSH and records it as evidence.
 */
export class HostAccess {
  constructor(private readonly deps: HostAccessDeps) {}

  /**
   * The activity's host, cleared for `action`, what the activity does: refused here, before
   * any command runs, when the host's role does not allow it. So a reboot whose first
   * command is a boot-id read (allowed on every role) is refused as the reboot it is.
   */
  authorize(ctx: StepContext, action: HostAction): AuthorizedHost {
    const nodeId = ctx.node_id ?? '';
    const host = findHost(this.deps.inventory, nodeId);
    if (!host) {
      throw ApplicationFailure.create({ type: ErrorType.HostNotInInventory, message: `node ${nodeId} is not in the inventory`, nonRetryable: true });
    }
    refuseUnlessAllowed(action, host);
    return new AuthorizedHost(this.deps, host, ctx);
  }

  /** A single command, cleared for its own action: for an activity that does nothing more. */
  async run(ctx: StepContext, action: HostAction, argv: readonly string[], opts: HostCommandOptions = {}): Promise<CommandResult> {
    return this.authorize(ctx, action).run(action, argv, opts);
  }
}

/** A host cleared for an activity's action (HostAccess.authorize); each command is still checked for its own. */
export class AuthorizedHost {
  /** The step context with the host's identity, for logs and evidence. */
  readonly ctx: StepContext;
  private readonly log: Logger;

  constructor(
    private readonly deps: HostAccessDeps,
    private readonly host: InventoryHost,
    ctx: StepContext,
  ) {
    this.ctx = { ...ctx, node_id: host.node_id, host_name: host.hostname, host_role: host.role };
    this.log = stepLogger(deps.logger, this.ctx);
  }

  async run(action: HostAction, argv: readonly string[], opts: HostCommandOptions = {}): Promise<CommandResult> {
    refuseUnlessAllowed(action, this.host);
    const signal = opts.signal ?? activityCancellationSignal();
    // Status polls of a host job are many and say little; they are logged, not kept as evidence.
    const record = opts.record ?? true;
    this.log[record ? 'info' : 'debug']({ action, argv }, 'running command');
    const result = await this.deps.ssh.exec(this.host, argv, { ...opts, signal });
    this.log[record ? 'info' : 'debug'](
      { action, exit_code: result.exit_code, duration_ms: result.duration_ms, truncated: result.truncated },
      'command finished',
    );
    if (record) await this.record(`${this.ctx.idempotency_key}/cmd/${opts.evidenceSuffix ?? action}`, result);
    return result;
  }

  /**
   * Keeps a command's result (exit code, output, trace id) as evidence under `key`.
   * Output is trimmed unless `fullOutput`: a host job's record is also its
   * result for a retried attempt, which must parse it again.
   */
  async record(key: string, result: CommandResult, fullOutput = false): Promise<void> {
    const keep = fullOutput ? (s: string) => s : trim;
    await this.deps.evidence.record(this.ctx, {
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

function refuseUnlessAllowed(action: HostAction, host: InventoryHost): void {
  if (!isActionAllowed(action, host.role)) throw hostRoleViolation(action, host);
}

function trim(s: string): string {
  return s.length <= EVIDENCE_OUTPUT_CHARS ? s : `${s.slice(0, EVIDENCE_OUTPUT_CHARS)}\n… [${s.length - EVIDENCE_OUTPUT_CHARS} more characters]`;
}
