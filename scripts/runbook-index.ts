/**
 * The docs index of runbooks, generated from the registry:
 * `npx tsx scripts/runbook-index.ts` writes docs/runbooks.md; a test fails
 * when the committed file differs from what the registry says.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RunbookDefinition } from '../domain/runbook-definition';
import { RUNBOOKS } from '../runbooks/registry';

export const INDEX_FILE = path.resolve(__dirname, '..', 'docs', 'runbooks.md');

export function renderRunbookIndex(runbooks: readonly RunbookDefinition[]): string {
  const rows = runbooks.map(
    (d) =>
      `| [${d.name}](../runbooks/${d.name}/README.md) | ${d.summary} | \`${d.targetRole}\` | ${d.disruption} | ${d.supportedRunModes.join(', ')} | ${d.outcomes.map((o) => `\`${o}\``).join(', ')} |`,
  );
  return [
    '# Runbooks',
    '',
    'Generated from `runbooks/registry.ts` by `npx tsx scripts/runbook-index.ts`; do not edit by hand.',
    'Start one with `POST /api/v1/runbooks/{name}/runs`.',
    '',
    '| runbook | what it does | acts on | disruption | run modes | outcomes |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}

if (require.main === module) {
  fs.writeFileSync(INDEX_FILE, renderRunbookIndex(RUNBOOKS));
  process.stdout.write(`wrote ${path.relative(process.cwd(), INDEX_FILE)} (${RUNBOOKS.length} runbooks)\n`);
}
