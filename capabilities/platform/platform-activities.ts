import { heartbeat, sleep } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { StepContext } from '../../domain/step-context';
import type { EvidenceStore } from '../evidence/evidence-store';
import { stepLogger } from '../observability';
import type { PlatformClient, RmaTicket, RmaTicketRequest } from './platform-client';

export interface DrainResult {
  drained: boolean;
  remaining: number;
  waited_ms: number;
}

/** The node as the platform sees it before the run acts: who else holds it out of service. */
export interface NodeState {
  schedulable: boolean;
  cordon_reason: string | null;
  open_rma_tickets: string[];
}

export function createPlatformActivities(deps: { platform: PlatformClient; evidence: EvidenceStore; logger: Logger }) {
  const { platform, evidence, logger } = deps;
  return {
    async readNodeState(ctx: StepContext): Promise<NodeState> {
      const [node, tickets] = await Promise.all([platform.getNode(ctx.node_id!), platform.listOpenRmaTickets(ctx.node_id!)]);
      return { schedulable: node.schedulable, cordon_reason: node.cordon_reason, open_rma_tickets: tickets.map((t) => t.ticket_id) };
    },

    async cordonNode(ctx: StepContext, reason: string): Promise<void> {
      await platform.cordon(ctx.node_id!, reason, ctx.idempotency_key);
      await evidence.markCordoned(ctx);
      stepLogger(logger, ctx).info({ reason }, 'node cordoned');
    },

    async uncordonNode(ctx: StepContext, reason: string): Promise<void> {
      await platform.uncordon(ctx.node_id!, reason, ctx.idempotency_key);
      stepLogger(logger, ctx).info({ reason }, 'node uncordoned');
    },

    /**
     * Polls the node's allocations until none are left or the timeout passes,
     * heartbeating each poll. Returns rather than throws on timeout: what to do
     * next is the workflow's decision (ask an operator to force).
     */
    async waitForDrain(ctx: StepContext, timeoutMs: number, pollMs: number): Promise<DrainResult> {
      const started = Date.now();
      for (;;) {
        const allocations = await platform.listAllocations(ctx.node_id!);
        const waited = Date.now() - started;
        heartbeat({ remaining: allocations.length, waited_ms: waited });
        if (allocations.length === 0) return { drained: true, remaining: 0, waited_ms: waited };
        if (waited >= timeoutMs) return { drained: false, remaining: allocations.length, waited_ms: waited };
        await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)));
      }
    },

    async evictAllocations(ctx: StepContext, reason: string): Promise<void> {
      await platform.evictAllocations(ctx.node_id!, reason, ctx.idempotency_key);
      stepLogger(logger, ctx).warn({ reason }, 'allocations force-evicted');
    },

    async openRmaTicket(ctx: StepContext, req: RmaTicketRequest): Promise<RmaTicket> {
      const ticket = await platform.openRmaTicket(req, ctx.idempotency_key);
      stepLogger(logger, ctx).info({ ticket_id: ticket.ticket_id }, 'RMA ticket opened');
      return ticket;
    },
  };
}

export type PlatformActivities = ReturnType<typeof createPlatformActivities>;
