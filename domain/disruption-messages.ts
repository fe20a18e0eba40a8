import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { LedgerState, SlotRequest } from './disruption';

/** Messages between runs, the disruption ledgers and the API (engine/disruption-ledger.ts). */
export interface SlotRelease {
  holder: string;
  node_id: string;
  /** Who released it, when a person did (a node held for an operator or sent to RMA). */
  actor?: string;
  reason?: string;
}

export interface SlotGranted {
  scope: string;
  node_id: string;
  granted_at: string;
}

export const slotRequestSignal = defineSignal<[SlotRequest]>('slotRequest');
export const slotReleaseSignal = defineSignal<[SlotRelease]>('slotRelease');
/** Sent by a ledger to the run it granted a slot. */
export const slotGrantedSignal = defineSignal<[SlotGranted]>('slotGranted');
export const ledgerStateQuery = defineQuery<LedgerState>('ledgerState');
