/**
 * docs/host-role-rules.md, generated from domain/host-role-rules.ts:
 * `npx tsx scripts/host-role-rules-doc.ts` (part of `npm run docs`); a test
 * fails when the committed file differs from what the rules say.
 */
import fs from 'node:fs';
import path from 'node:path';
import { HOST_ROLE_RULES, ruleRefusing, type HostRoleRule } from '../domain/host-role-rules';
import { ACTION_ALLOWED_ROLES, HOST_ROLES, type HostAction } from '../domain/host-roles';

export const HOST_ROLE_RULES_FILE = path.resolve(__dirname, '..', 'docs', 'host-role-rules.md');

const cell = (text: string) => text.replace(/\|/g, '\\|');

function refuses(rule: HostRoleRule): string {
  return rule.refuses ? `on ${rule.refuses.roles.map((r) => `\`${r}\``).join(', ')}: ${rule.refuses.actions.map((a) => `\`${a}\``).join(', ')}` : '—';
}

export function renderHostRoleRules(): string {
  const actions = Object.keys(ACTION_ALLOWED_ROLES) as HostAction[];
  return [
    '# Host-role rules',
    '',
    'Generated from `domain/host-role-rules.ts` by `npx tsx scripts/host-role-rules-doc.ts` (`npm run docs`); do not edit by hand.',
    '',
    "The seeds' design and safety rules for the three host roles, and where the engine enforces each. A refused action",
    'fails its step with `HostRoleViolation` before any connection to the host, and the message quotes the rule.',
    '',
    '| rule | the seed says | source | refuses | enforced |',
    '|---|---|---|---|---|',
    ...HOST_ROLE_RULES.map((r) => `| \`${r.id}\` | “${cell(r.quote)}” | ${cell(r.source)} | ${refuses(r)} | ${cell(r.enforced)} |`),
    '',
    '## Host actions by role',
    '',
    'Where each host action may run (✓), and the rule quoted when it is refused.',
    '',
    `| action | ${HOST_ROLES.map((r) => `\`${r}\``).join(' | ')} |`,
    `|---|${HOST_ROLES.map(() => '---').join('|')}|`,
    ...actions.map((a) => `| \`${a}\` | ${HOST_ROLES.map((role) => (ruleRefusing(a, role) ? `\`${ruleRefusing(a, role)!.id}\`` : '✓')).join(' | ')} |`),
    '',
  ].join('\n');
}

if (require.main === module) {
  fs.writeFileSync(HOST_ROLE_RULES_FILE, renderHostRoleRules());
  process.stdout.write(`wrote ${path.relative(process.cwd(), HOST_ROLE_RULES_FILE)} (${HOST_ROLE_RULES.length} rules)\n`);
}
