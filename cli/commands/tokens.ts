import { Command, Option } from 'commander';
import type { TokenRecord } from '../api-types';
import { contextOf } from '../context';
import { UsageError } from '../errors';
import { collect } from '../option-parsers';
import { time } from '../output';

const ROLES = ['viewer', 'operator', 'approver', 'admin'];

/** API tokens (admin): made and shown once, listed without secrets, revoked. */
export function tokensCommand(): Command {
  const tokens = new Command('tokens').description('API tokens (admin; /api/v1/tokens)');

  tokens
    .command('create')
    .description('make a token; it is printed once, on stdout, and stored only hashed')
    .requiredOption('--principal <name>', 'who the token acts as (the actor of everything done with it)')
    .addOption(new Option('--role <role>', 'a role, repeatable').choices(ROLES).argParser(collect).makeOptionMandatory())
    .option('--description <text>', 'what it is for')
    .addHelpText('after', '\nExample:\n  TOKEN=$(gpuaas-runbooks tokens create --principal alice --role approver --description "on-call")')
    .action(async (opts: { principal: string; role: string[]; description?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const { body } = await api.post<TokenRecord & { token: string }>('/api/v1/tokens', {
        principal: opts.principal,
        roles: opts.role,
        ...(opts.description ? { description: opts.description } : {}),
      });
      if (out.json) return out.printJson(body);
      out.note(`token ${body.id} for ${body.principal} (${body.roles.join(', ')}); shown only now, it is stored hashed:`);
      out.line(body.token);
    });

  tokens
    .command('ls', { isDefault: true })
    .description('list tokens (never their secrets)')
    .action(async (_opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const answer = await api.get<{ tokens: TokenRecord[] }>('/api/v1/tokens');
      if (out.json) return out.printJson(answer);
      out.table(answer.tokens, [
        { header: 'ID', value: (t) => t.id },
        { header: 'PRINCIPAL', value: (t) => t.principal },
        { header: 'ROLES', value: (t) => t.roles },
        { header: 'CREATED', value: (t) => time(t.created_at) },
        { header: 'DESCRIPTION', value: (t) => t.description },
      ]);
    });

  tokens
    .command('rm')
    .description('revoke a token by id, or every token of a principal')
    .argument('[id]', 'the token id (12 hex digits, as tokens ls shows)')
    .option('--principal <name>', 'revoke every token of this principal instead')
    .action(async (id: string | undefined, opts: { principal?: string }, cmd: Command) => {
      if (!id === !opts.principal) throw new UsageError('give a token id or --principal (not both)');
      const { api, out } = contextOf(cmd);
      const { body } = id
        ? await api.delete<{ revoked: number }>(`/api/v1/tokens/${encodeURIComponent(id)}`)
        : await api.delete<{ revoked: number }>('/api/v1/tokens', { principal: opts.principal });
      if (out.json) return out.printJson(body);
      out.line(`${body.revoked} token${body.revoked === 1 ? '' : 's'} revoked`);
    });

  return tokens;
}
