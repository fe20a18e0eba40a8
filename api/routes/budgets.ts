import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ledgerScope, ledgerWorkflowId, unavailableNodes, type LedgerState } from '../../domain/disruption';
import { ledgerStateQuery, slotReleaseSignal } from '../../domain/disruption-messages';
import { NodeIdSchema } from '../../domain/inventory';
import { safeText } from '../../domain/text';
import { ApiError, invalidInput } from '../errors';
import { routeApis } from '../openapi/route-api';
import type { ApiDeps } from '../server';
import { mapConcurrently } from '../map-concurrently';
import { requestBudgets, type PendingCalls } from '../temporal-call';

const LEDGER_QUERY_CONCURRENCY = 16;

const ReleaseSchema = z
  .object({
    /** `rack/rack-1`, `node/dev-gpu-3`, ... as GET /api/v1/budgets lists them. */
    scope: z.string().regex(/^[a-z][a-z0-9_-]{0,31}\/[A-Za-z0-9._-]{1,63}$/, 'expected kind/value, e.g. rack/r12'),
    node_id: NodeIdSchema,
    reason: safeText(2000, { multiline: true }),
  })
  .strict();

/** A scope's budget as operators read it. */
function view(state: LedgerState) {
  return {
    scope: state.scope,
    available: true as const,
    size: state.size,
    cap: state.cap,
    unavailable: unavailableNodes(state).size,
    tripped: unavailableNodes(state).size >= state.cap,
    holders: state.holders,
    waiters: state.waiters.map(({ unavailable_elsewhere: _seen, ...w }) => w),
    unavailable_elsewhere: state.unavailable_elsewhere,
  };
}

/** The routes' entries in /openapi.json. */
const API = routeApis({
  list: {
    summary: "Every scope's disruption budget",
    description: 'Per scope (rack, node, ...): its size and cap, how many nodes are unavailable, the runs holding a slot and those waiting for one.',
    responses: { 200: '`scopes`, sorted by name; a scope whose ledger did not answer in time has `available: false`' },
  },
  release: {
    summary: 'Release a slot a node holds, by hand',
    description: 'For a slot whose run can no longer release it. The actor is the authenticated principal.',
    body: ReleaseSchema,
    responses: {
      202: 'the release was sent to the ledger',
      404: 'scope_not_found: no disruption ledger for the scope',
      409: 'not_held: the node holds no slot of the scope',
    },
  },
});

/** The fleet-wide disruption budget: every scope's caps, holders and waiters, and a person's release of a held slot. */
export function registerBudgetRoutes(app: FastifyInstance, deps: ApiDeps, pending: PendingCalls): void {
  const { client } = deps;
  const budget = requestBudgets(client, deps.temporalTimeoutMs, pending);

  app.get('/api/v1/budgets', { config: { role: 'viewer', api: API.list } }, async () => {
    const temporal = budget();
    const ids = await temporal.call(
      'budgets',
      async () => {
        const found: string[] = [];
        for await (const wf of client.workflow.list({ query: `WorkflowType = 'disruptionLedger' AND ExecutionStatus = 'Running'` })) found.push(wf.workflowId);
        return found;
      },
      'worker_unavailable',
    );
    // Each ledger answers for itself: one whose worker is gone is shown as such, not a 503 for every scope.
    const states = await mapConcurrently(ids, LEDGER_QUERY_CONCURRENCY, (id) =>
      temporal.call('ledger query', () => client.workflow.getHandle(id).query(ledgerStateQuery), 'worker_unavailable'),
    );
    const scopes = ids
      .map((id, i) => {
        const state = states[i];
        return state ? view(state) : { scope: ledgerScope(id), available: false as const, error: 'its ledger did not answer in time' };
      })
      .sort((a, b) => a.scope.localeCompare(b.scope));
    return { scopes };
  });

  app.post('/api/v1/budgets/release', { config: { role: 'admin', api: API.release } }, async (req, reply) => {
    const parsed = ReleaseSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'release');
    const { scope, node_id, reason } = parsed.data;
    const actor = req.principal!.name;
    const temporal = budget();
    const handle = client.workflow.getHandle(ledgerWorkflowId(scope));
    let state: LedgerState;
    try {
      state = await temporal.call('ledger query', () => handle.query(ledgerStateQuery), 'worker_unavailable');
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'scope_not_found', `no disruption ledger for ${scope}`);
      throw err;
    }
    const lease = state.holders.find((h) => h.node_id === node_id);
    if (!lease) throw new ApiError(409, 'not_held', `${node_id} holds no slot of ${scope}`, { holders: state.holders.map((h) => h.node_id) });
    await temporal.call('signal', () => handle.signal(slotReleaseSignal, { holder: lease.holder, node_id, actor, reason }));
    req.log.warn({ scope, node_id, holder: lease.holder, actor, reason }, 'disruption slot released by hand');
    return reply.status(202).send({ scope, node_id, released_from: lease.holder });
  });
}
