/**
 * API tokens in the configured tokens file (API_TOKENS_FILE, default
 * <DATA_DIR>/api-tokens.json), without a running API: how the first admin token
 * of a real deployment is made.
 *
 *   npm run tokens -- create --principal alice --roles approver[,operator] [--description "..."]
 *   npm run tokens -- list
 *   npm run tokens -- revoke --id <id> | --principal <name>
 */
import { parseArgs } from 'node:util';
import { TokenFile } from '../api/auth/token-file';
import { loadConfig } from '../config';
import { RoleSchema } from '../domain/principals';

function main(): number {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { principal: { type: 'string' }, roles: { type: 'string' }, description: { type: 'string' }, id: { type: 'string' } },
  });
  const tokens = new TokenFile(loadConfig().auth.tokensFile);
  switch (positionals[0]) {
    case 'create': {
      if (!values.principal || !values.roles) return usage('create needs --principal and --roles');
      const roles = values.roles.split(',').map((r) => RoleSchema.parse(r.trim()));
      const { token, record } = tokens.create(values.principal, roles, values.description ?? 'made with npm run tokens');
      process.stderr.write(`token ${record.id} for ${record.principal} (${record.roles.join(', ')}) in ${tokens.file}; shown only now:\n`);
      process.stdout.write(`${token}\n`);
      return 0;
    }
    case 'list':
      for (const t of tokens.list()) process.stdout.write(`${t.id}  ${t.principal}  ${t.roles.join(',')}  ${t.created_at}  ${t.description}\n`);
      return 0;
    case 'revoke': {
      if (!values.id && !values.principal) return usage('revoke needs --id or --principal');
      const n = tokens.delete(values.id ? { id: values.id } : { principal: values.principal! });
      process.stderr.write(`${n} token(s) revoked\n`);
      return n > 0 ? 0 : 1;
    }
    default:
      return usage(positionals[0] ? `unknown command ${positionals[0]}` : 'no command');
  }
}

function usage(problem: string): number {
  process.stderr.write(
    `${problem}\nusage: npm run tokens -- create --principal NAME --roles viewer|operator|approver|admin[,...] | list | revoke --id ID | --principal NAME\n`,
  );
  return 2;
}

process.exit(main());
