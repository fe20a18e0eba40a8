import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { MEMO_REQUESTED_BY } from '../domain/runbook';
import { alertTrigger, runUserMetadata } from '../domain/run-summary';
import { SA } from '../domain/search-attributes';
import { AlertLedger, type AlertKey, type AlertOutcome } from './alert-ledger';
import { ApiError } from './errors';
import type { RunbookDefinition } from '../domain/runbook-definition';
import type { TemporalBudget } from './temporal-call';

/** Distinct alert keys signalled to one run at most; later new keys are counted, not sent. */
export const DEFAULT_ALERT_KEY_CAP = 20;
/** A run the ledger believes open is confirmed with Temporal at most this long after the last check. */
export const DEFAULT_RECHECK_MS = 5_000;
/** A delivery claim older than this was abandoned (its process died): another alert may take it over. */
export const STALE_CLAIM_MS = 30_000;
/** Rounds of "look in the ledger, then ask Temporal" before giving up on a run that will not finish closing. */
const MAX_ROUNDS = 6;
/** Memo fields on each run the API starts, so any API process can tell the starting alert from a new one. */
const MEMO_ALERT_KEY = 'alert_key';
const MEMO_ALERT_XID = 'alert_xid';

export interface AlertRouterOptions {
  client: Client;
  ledger: AlertLedger;
  taskQueue: string;
  cooldownMs: number;
  keyCap: number;
}

export interface RoutedAlert {
  workflowId: string;
  runId: string;
  outcome: AlertOutcome;
}

type TriggerInput = Record<string, unknown> & { correlation_id: string; run_mode: string };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Turns an alert trigger into at most one Temporal call, and none for a repeat:
 *   - an open run has this alert's key already → coalesced (one ledger upsert, nothing else);
 *   - an open run lacks the key → signalled to it (delivered), up to `keyCap` keys per run,
 *     beyond that counted only (over_cap);
 *   - no open run, but one closed within the cool-down and saw this alert's Xid → answered
 *     with that run (cooldown), nothing started;
 *   - otherwise → a new run (started). Of N concurrent triggers exactly one starts it.
 */
export class AlertRouter {
  constructor(private readonly o: AlertRouterOptions) {}

  /** Per workflow id, the slow path this process is running now; concurrent alerts for it wait for it. */
  private readonly resolving = new Map<string, Promise<unknown>>();

  async route(entry: RunbookDefinition, input: TriggerInput, budget: TemporalBudget, requestedBy: string): Promise<RoutedAlert> {
    const workflowId = entry.workflowId(input);
    const alert = entry.alert(input);
    const claimant = randomUUID();
    for (let round = 1; round <= MAX_ROUNDS; round++) {
      const hit = await this.o.ledger.recordForOpenRun(workflowId, alert, claimant);
      if (hit) {
        if (hit.outcome !== 'claimed') return { workflowId, runId: hit.runId, outcome: hit.outcome };
        const delivered = await this.deliver(entry, input, workflowId, hit.runId, alert, claimant, budget);
        if (delivered) return delivered;
        continue; // the run had closed: look again
      }
      // A storm's first alerts for a node arrive together. One of them asks Temporal; the
      // others of this process wait for it and then find its run in the ledger, instead of
      // each sending a start and a describe. (Other processes are kept apart by Temporal's
      // one-open-run-per-id rule and the ledger, as before.)
      const inFlight = this.resolving.get(workflowId);
      if (inFlight) {
        await budget.wait(inFlight);
        round--; // waiting is not a round of our own
        continue;
      }
      const slow = this.slowPath(entry, input, workflowId, alert, budget, round, requestedBy);
      this.resolving.set(workflowId, slow);
      try {
        const routed = await slow;
        if (routed) return routed;
      } finally {
        this.resolving.delete(workflowId);
      }
    }
    throw new ApiError(
      503,
      'run_closing',
      `the open run of ${workflowId} is closing; send the alert again`,
      { workflow_id: workflowId },
      { 'retry-after': '1' },
    );
  }

  /**
   * No open run in the ledger: the cool-down, or a start, or (when Temporal has a run the
   * ledger did not know) recording that run so the next round joins it (undefined).
   */
  private async slowPath(
    entry: RunbookDefinition,
    input: TriggerInput,
    workflowId: string,
    alert: AlertKey,
    budget: TemporalBudget,
    round: number,
    requestedBy: string,
  ): Promise<RoutedAlert | undefined> {
    const state = await this.o.ledger.state(workflowId, alert, this.o.cooldownMs);
    if (state.known?.engineOpen && !state.known.fresh) {
      // The engine has not recorded the end of the run alerts last joined, but nobody has
      // confirmed it with Temporal lately (it may have been terminated): ask.
      const open = await this.describeOpen(workflowId, budget);
      if (open) {
        await this.o.ledger.runIsOpen(workflowId, open.runId, startKeyOf(open), false);
        return undefined;
      }
      await this.o.ledger.runIsStale(workflowId, state.known.runId);
    }
    const last = state.last;
    if (last?.closed && last.coolingDown && last.nothingNew) {
      await this.o.ledger.recordCooldown(workflowId, last.runId, alert);
      return { workflowId, runId: last.runId, outcome: 'cooldown' };
    }

    const started = await this.start(entry, input, workflowId, alert, budget, requestedBy);
    if (started) return started;
    // Someone else's run is open: join it on the next round.
    const open = await this.describeOpen(workflowId, budget);
    if (open) {
      await this.o.ledger.runIsOpen(workflowId, open.runId, startKeyOf(open), false);
      if (last?.runId === open.runId && last.closed) {
        // The engine recorded this run's end but Temporal has not closed it yet: a new
        // alert has to wait for it to close before it can start the next run.
        const wait = 25 * 2 ** round;
        if (budget.remainingMs() < wait) {
          throw new ApiError(
            503,
            'run_closing',
            `the open run of ${workflowId} is closing; send the alert again`,
            { workflow_id: workflowId },
            { 'retry-after': '1' },
          );
        }
        await sleep(wait);
      }
    }
    return undefined;
  }

  /** Signals a claimed key to the run. Undefined when the run turned out to be closed. */
  private async deliver(
    entry: RunbookDefinition,
    input: TriggerInput,
    workflowId: string,
    runId: string,
    alert: AlertKey,
    claimant: string,
    budget: TemporalBudget,
  ): Promise<RoutedAlert | undefined> {
    const slot = await this.o.ledger.takeDeliverySlot(workflowId, runId, alert.key, claimant, this.o.keyCap);
    if (slot !== 'delivered') return { workflowId, runId, outcome: slot };
    const signal = entry.joinSignal(input, input.correlation_id, new Date().toISOString());
    try {
      await budget.call('signal', () => this.o.client.workflow.getHandle(workflowId, runId).signal(signal.name, signal.arg));
      return { workflowId, runId, outcome: 'delivered' };
    } catch (err) {
      await this.o.ledger.deliveryFailed(workflowId, runId, alert.key, claimant);
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      await this.o.ledger.runIsStale(workflowId, runId);
      return undefined;
    }
  }

  /** Starts the run; undefined when one is already open for this workflow id. */
  private async start(
    entry: RunbookDefinition,
    input: TriggerInput,
    workflowId: string,
    alert: AlertKey,
    budget: TemporalBudget,
    requestedBy: string,
  ): Promise<RoutedAlert | undefined> {
    const nodeId = entry.nodeId(input);
    let runId: string;
    try {
      const handle = await budget.call('start', () =>
        this.o.client.workflow.start(entry.workflowType, {
          taskQueue: this.o.taskQueue,
          workflowId,
          args: [input],
          workflowIdConflictPolicy: 'FAIL',
          memo: { [MEMO_ALERT_KEY]: alert.key, [MEMO_ALERT_XID]: alert.xid ?? null, [MEMO_REQUESTED_BY]: requestedBy },
          ...runUserMetadata({
            runbook: entry.name,
            runMode: String(input.run_mode),
            nodeId,
            trigger: alertTrigger(input),
            requestedBy,
            correlationId: input.correlation_id,
          }),
          typedSearchAttributes: [
            { key: SA.Runbook, value: entry.name },
            { key: SA.RunbookPhase, value: 'trigger' },
            { key: SA.CorrelationId, value: input.correlation_id },
            { key: SA.RunMode, value: input.run_mode },
            { key: SA.AwaitingApproval, value: false },
            ...(nodeId ? [{ key: SA.NodeId, value: nodeId }] : []),
          ],
        }),
      );
      runId = handle.firstExecutionRunId;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return undefined;
      throw err;
    }
    await this.o.ledger.runIsOpen(workflowId, runId, alert, true);
    return { workflowId, runId, outcome: 'started' };
  }

  /** Temporal's open run for this workflow id, if any. */
  private async describeOpen(workflowId: string, budget: TemporalBudget): Promise<WorkflowExecutionDescription | undefined> {
    try {
      const d = await budget.call('describe', () => this.o.client.workflow.getHandle(workflowId).describe());
      return d.status.name === 'RUNNING' ? d : undefined;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }
}

/** The alert that started a run, from the memo the API put on it (absent for runs started elsewhere). */
function startKeyOf(d: WorkflowExecutionDescription): AlertKey | undefined {
  const key = d.memo?.[MEMO_ALERT_KEY];
  const xid = d.memo?.[MEMO_ALERT_XID];
  return typeof key === 'string' ? { key, xid: typeof xid === 'number' ? xid : undefined } : undefined;
}
