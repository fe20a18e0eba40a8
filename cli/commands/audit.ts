import { Command } from 'commander';
import type { AuditEntry, ChainCheck } from '../api-types';
import { contextOf } from '../context';
import { BadOutcome } from '../errors';
import { parseNonNegativeInt, parsePositiveInt } from '../option-parsers';
import { time } from '../output';

/** The append-only, hash-chained audit trail of every change made through the API. */
export function auditCommand(): Command {
  const audit = new Command('audit').description('the audit trail (/api/v1/audit)');

  audit
    .command('ls')
    .description('entries, oldest first from --after')
    .option('--limit <n>', 'at most n entries (1-1000)', parsePositiveInt, 100)
    .option('--after <seq>', 'entries after this sequence number (for paging)', parseNonNegativeInt, 0)
    .option('--principal <name>', 'only what this principal did')
    .option('--action <action>', 'only this action, e.g. "POST /api/v1/runs/:workflowId/approvals"')
    .action(async (opts: { limit: number; after: number; principal?: string; action?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const answer = await api.get<{ entries: AuditEntry[]; next_after: number | null }>('/api/v1/audit', {
        limit: opts.limit,
        after: opts.after || undefined,
        principal: opts.principal,
        action: opts.action,
      });
      if (out.json) return out.printJson(answer);
      out.table(answer.entries, [
        { header: 'SEQ', value: (e) => e.seq },
        { header: 'AT', value: (e) => time(e.at) },
        { header: 'PRINCIPAL', value: (e) => e.principal },
        { header: 'STATUS', value: (e) => e.status },
        { header: 'ACTION', value: (e) => e.action },
        { header: 'TARGET', value: (e) => e.target },
      ]);
      if (answer.next_after !== null) out.note(`more: gpuaas-runbooks audit ls --after ${answer.next_after}`);
    });

  audit
    .command('verify')
    .description('check the hash chain from the first entry; exit 6 when it is broken')
    .action(async (_opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const check = await api.get<ChainCheck>('/api/v1/audit/verify');
      if (out.json) out.printJson(check);
      else if (check.ok) out.line(`audit chain intact (${check.rows} entries)`);
      if (!check.ok) {
        const where = check.broken ? `at entry ${check.broken.seq}: ${check.broken.problem}` : `after ${check.rows} entries`;
        throw new BadOutcome('audit_chain_broken', `the audit chain is broken ${where}`);
      }
    });

  return audit;
}
