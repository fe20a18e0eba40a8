import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { GpuAlert } from './gpu-fault';
import type { ApprovalDecision, CancelRequest, RunStatus } from './runbook';

/** Message definitions shared by workflows (handlers) and the API (callers). */
export const statusQuery = defineQuery<RunStatus>('status');
export const approvalSignal = defineSignal<[ApprovalDecision]>('approval');
export const cancelRequestSignal = defineSignal<[CancelRequest]>('cancelRequest');
export const gpuAlertSignal = defineSignal<[GpuAlert]>('gpuAlert');
