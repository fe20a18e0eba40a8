import { Command } from 'commander';
import type { BudgetScope } from '../api-types';
import { contextOf } from '../context';

/** The disruption budget: how many nodes of each scope may be out of service at once, who holds the slots, who waits. */
export function budgetsCommand(): Command {
  const budgets = new Command('budgets').description('disruption budgets: caps, holders and waiters per scope (/api/v1/budgets)');

  budgets
    .command('ls', { isDefault: true })
    .description('every scope with a live ledger (the default)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const answer = await api.get<{ scopes: BudgetScope[] }>('/api/v1/budgets');
      if (out.json) return out.printJson(answer);
      out.table(answer.scopes, [
        { header: 'SCOPE', value: (s) => s.scope },
        { header: 'SIZE', value: (s) => s.size ?? '-' },
        { header: 'CAP', value: (s) => s.cap ?? '-' },
        { header: 'OUT', value: (s) => s.unavailable ?? '-' },
        { header: 'TRIPPED', value: (s) => (s.available === false ? `unknown: ${s.error}` : s.tripped ? 'yes' : 'no') },
        { header: 'HOLDERS', value: (s) => (s.holders ?? []).map((h) => `${h.node_id} (${h.holder})`) },
        { header: 'WAITING', value: (s) => (s.waiters ?? []).map((w) => w.node_id) },
        { header: 'OUT ELSEWHERE', value: (s) => s.unavailable_elsewhere ?? [] },
      ]);
    });

  budgets
    .command('release')
    .description("free a node's slot by hand, e.g. after its run was terminated (admin; POST /api/v1/budgets/release)")
    .requiredOption('--scope <kind/value>', 'as budgets lists it, e.g. rack/r12 or node/dev-gpu-3')
    .requiredOption('--node <id>', 'the node whose slot to free')
    .requiredOption('--reason <text>', 'why; recorded in the audit trail')
    .action(async (opts: { scope: string; node: string; reason: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const { body } = await api.post<{ scope: string; node_id: string; released_from: string }>('/api/v1/budgets/release', {
        scope: opts.scope,
        node_id: opts.node,
        reason: opts.reason,
      });
      if (out.json) return out.printJson(body);
      out.line(`released ${body.node_id}'s slot of ${body.scope} (held by ${body.released_from})`);
    });

  return budgets;
}
