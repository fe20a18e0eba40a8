/**
 * The registry is the one list of runbooks: every folder under runbooks/ is in
 * it, every entry's workflow is what the worker registers, and every runbook's
 * page names the steps its workflow runs (checked against the code, so a page
 * cannot drift from it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ruleRefusing } from '../../domain/host-role-rules';
import { HOST_ROLES, isActionAllowed } from '../../domain/host-roles';
import { PHASES } from '../../domain/runbook';
import * as registry from '../../runbooks/registry';
import { RUNBOOKS } from '../../runbooks/registry';
import { INDEX_FILE, renderRunbookIndex } from '../../scripts/runbook-index';

const RUNBOOKS_DIR = path.resolve(__dirname, '../../runbooks');
const folders = fs
  .readdirSync(RUNBOOKS_DIR, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

/**
 * Step, approval and outcome names the workflow code passes as literal first
 * arguments (`run.step('cordon_node', ...)`, `this.done('rma_opened', ...)`);
 * `${...}` in a template stands for any value (`reset_${tag}` → reset_gpuN).
 */
function namesInWorkflow(source: string): string[] {
  const literals = [...source.matchAll(/\(\s*['`]([a-z][a-z0-9_]*(?:\$\{[^}]+\}[a-z0-9_]*)*)['`]/g)].map((m) => m[1]!);
  return [...new Set(literals.filter((n) => n.includes('_') && !(PHASES as readonly string[]).includes(n)))].sort();
}

test('every runbook folder is registered, once, under its own name', () => {
  expect(RUNBOOKS.map((d) => d.name).sort()).toEqual(folders);
});

test.each(RUNBOOKS.map((d) => [d.name, d.workflowType]))('%s: the worker registers its workflow %s', (_name, workflowType) => {
  expect(typeof (registry as Record<string, unknown>)[workflowType]).toBe('function');
});

test.each(RUNBOOKS.filter((d) => d.targetAction).map((d) => [d.name, d.targetAction!, d.targetRole] as const))(
  '%s: its target action %s is allowed on %s, and a rule refuses it on every other role (the API quotes it)',
  (_name, action, role) => {
    expect(isActionAllowed(action, role)).toBe(true);
    for (const other of HOST_ROLES.filter((r) => r !== role))
      expect({ other, rule: ruleRefusing(action, other)?.id }).toEqual({ other, rule: expect.any(String) });
  },
);

test('workflow types and workflow id prefixes are unique', () => {
  expect(new Set(RUNBOOKS.map((d) => d.workflowType)).size).toBe(RUNBOOKS.length);
});

test.each(RUNBOOKS.map((d) => d.name))('%s: its page names every step and outcome of its workflow', (name) => {
  const page = fs.readFileSync(path.join(RUNBOOKS_DIR, name, 'README.md'), 'utf8');
  const workflow = fs.readFileSync(path.join(RUNBOOKS_DIR, name, 'workflow.ts'), 'utf8');
  // The shared pre-checks name their steps in engine/target.ts.
  const shared = /\bresolveTarget\(/.test(workflow) ? ['check_host_role', 'resolve_target'] : [];
  const names = [...namesInWorkflow(workflow), ...shared];
  expect(names.length).toBeGreaterThan(3);
  const missing = names.filter((n) => !new RegExp(`\\b${n.replace(/\$\{[^}]+\}/g, '[A-Za-z0-9<>]+')}\\b`).test(page));
  expect(missing).toEqual([]);
  const definition = RUNBOOKS.find((d) => d.name === name)!;
  expect(definition.outcomes.filter((o) => !page.includes(`\`${o}\``))).toEqual([]);
  for (const section of ['## Input', '## Steps', '**Pre-checks**', '**Procedure**', '**Verify**', '**Rollback**', '## Outcomes', '## Approvals']) {
    expect({ section, found: page.includes(section) }).toEqual({ section, found: true });
  }
});

test('docs/runbooks.md is the index the registry generates', () => {
  expect(fs.readFileSync(INDEX_FILE, 'utf8')).toBe(renderRunbookIndex(RUNBOOKS));
});
