import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Custom search attributes, registered at start-up. Together they let one
 * visibility query answer "what is stuck, where, and waiting on whom", e.g.
 *   ExecutionStatus='Running' AND AwaitingApproval=true
 */
export const SA = {
  Runbook: defineSearchAttributeKey('Runbook', SearchAttributeType.KEYWORD),
  RunbookPhase: defineSearchAttributeKey('RunbookPhase', SearchAttributeType.KEYWORD),
  NodeId: defineSearchAttributeKey('NodeId', SearchAttributeType.KEYWORD),
  HostRole: defineSearchAttributeKey('HostRole', SearchAttributeType.KEYWORD),
  HostName: defineSearchAttributeKey('HostName', SearchAttributeType.KEYWORD),
  AppInstanceId: defineSearchAttributeKey('AppInstanceId', SearchAttributeType.KEYWORD),
  CorrelationId: defineSearchAttributeKey('CorrelationId', SearchAttributeType.KEYWORD),
  AwaitingApproval: defineSearchAttributeKey('AwaitingApproval', SearchAttributeType.BOOL),
  RunMode: defineSearchAttributeKey('RunMode', SearchAttributeType.KEYWORD),
  /** Waiting for a disruption slot (the status query says which scope and who holds it). */
  BlockedOnBudget: defineSearchAttributeKey('BlockedOnBudget', SearchAttributeType.BOOL),
} as const;

export const ALL_SEARCH_ATTRIBUTES = Object.values(SA);
