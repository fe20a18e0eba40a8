import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApprovalAnswer, ApprovalDecision, CancelRequest, RunStatus } from './runbook';

/** Message definitions shared by workflows (handlers) and the API (callers). */
export const statusQuery = defineQuery<RunStatus>('status');
/** From the Temporal UI or CLI: no answer; a refused one is recorded as refused evidence. */
export const approvalSignal = defineSignal<[ApprovalDecision]>('approval');
/** From the API: validated before it is accepted, answered with what was recorded. */
export const approvalUpdate = defineUpdate<ApprovalAnswer, [ApprovalDecision]>('decideApproval');
export const cancelRequestSignal = defineSignal<[CancelRequest]>('cancelRequest');
