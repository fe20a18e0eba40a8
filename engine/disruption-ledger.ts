import { allHandlersFinished, condition, continueAsNew, getExternalWorkflowHandle, isCancellation, log, setHandler, workflowInfo } from '@temporalio/workflow';
import { enqueue, grantWaiting, release, type LedgerState } from '../domain/disruption';
import { ledgerStateQuery, slotGrantedSignal, slotReleaseSignal, slotRequestSignal } from '../domain/disruption-messages';

export interface LedgerArgs {
  scope: string;
  size: number;
  cap: number;
  /** Carried across continue-as-new. */
  state?: LedgerState;
}

/** Past this many events a ledger starts afresh with its state, well below Temporal's limits. */
const MAX_HISTORY_EVENTS = 2_000;

/**
 * The disruption budget of one scope (a rack, a pool, one node), as a
 * long-lived entity workflow: runs ask for a slot (signal), it grants them
 * first come, first served within the scope's cap and tells each holder
 * (signal back), and a release (by the run, or by a person for a node held for
 * an operator) frees the slot for the next. The `ledgerState` query shows caps,
 * holders and waiters.
 */
export async function disruptionLedger(args: LedgerArgs): Promise<void> {
  const state: LedgerState = args.state ?? { scope: args.scope, size: args.size, cap: args.cap, holders: [], waiters: [], unavailable_elsewhere: [] };
  let changed = true;
  setHandler(slotRequestSignal, (req) => {
    enqueue(state, req);
    changed = true;
  });
  setHandler(slotReleaseSignal, (r) => {
    if (release(state, r.holder, r.node_id)) {
      changed = true;
      log.info('disruption slot released', { scope: state.scope, holder: r.holder, node_id: r.node_id, actor: r.actor, reason: r.reason });
    }
  });
  setHandler(ledgerStateQuery, () => state);

  for (;;) {
    await condition(() => changed);
    changed = false;
    for (const lease of grantWaiting(state, new Date().toISOString())) {
      try {
        await getExternalWorkflowHandle(lease.holder).signal(slotGrantedSignal, { scope: state.scope, node_id: lease.node_id, granted_at: lease.granted_at });
        log.info('disruption slot granted', { scope: state.scope, holder: lease.holder, node_id: lease.node_id });
      } catch (err) {
        if (isCancellation(err)) throw err;
        // The run is gone (finished or terminated while it waited): its slot is free again.
        release(state, lease.holder, lease.node_id);
        changed = true;
      }
    }
    if (workflowInfo().historyLength > MAX_HISTORY_EVENTS || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof disruptionLedger>({ scope: state.scope, size: state.size, cap: state.cap, state });
    }
  }
}
