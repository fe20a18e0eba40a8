import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { ApprovalDecision, CancelRequest, RunStatus } from './runbook';

/** Message definitions shared by workflows (handlers) and the API (callers). */
export const statusQuery = defineQuery<RunStatus>('status');
export const approvalSignal = defineSignal<[ApprovalDecision]>('approval');
export const cancelRequestSignal = defineSignal<[CancelRequest]>('cancelRequest');
