import fs from 'node:fs';
import { forbiddenPairs, HOST_ROLE_RULES, hostRoleViolationMessage, ruleRefusing } from '../../domain/host-role-rules';
import { isActionAllowed } from '../../domain/host-roles';
import { HOST_ROLE_RULES_FILE, renderHostRoleRules } from '../../scripts/host-role-rules-doc';

test('every action refused on a role is refused by a rule, and no rule refuses what a role may do', () => {
  const pairs = forbiddenPairs();
  expect(pairs.length).toBeGreaterThan(0);
  for (const { action, role } of pairs) expect({ action, role, rule: ruleRefusing(action, role)?.id }).toEqual({ action, role, rule: expect.any(String) });
  for (const rule of HOST_ROLE_RULES) {
    for (const role of rule.refuses?.roles ?? [])
      for (const action of rule.refuses!.actions)
        expect({ rule: rule.id, action, role, allowed: isActionAllowed(action, role) }).toMatchObject({ allowed: false });
  }
  expect(new Set(HOST_ROLE_RULES.map((r) => r.id)).size).toBe(HOST_ROLE_RULES.length);
});

test('a refusal says what, where, the roles that may, and quotes the rule with its source', () => {
  expect(hostRoleViolationMessage('reboot_host', { hostname: 'dev-control-1', role: 'platform_control' }, 'gpu-fault-remediation')).toBe(
    'gpu-fault-remediation refused on dev-control-1: its role is platform_control, reboot_host runs only on worker_compute hosts; ' +
      'rule no-destructive-hardware-on-platform-control: “Must not be used as a general test worker for destructive hardware scenarios.” (seed 002, dev-control-1 (platform_control))',
  );
  expect(hostRoleViolationMessage('manage_app_controller', { hostname: 'dev-gpu-1', role: 'worker_compute' })).toContain(
    'rule app-recovery-stays-off-gpu: “do not "fix" by moving the control-plane function onto the GPU host”',
  );
});

test('docs/host-role-rules.md is the table the rules generate (npm run docs)', () => {
  expect(fs.readFileSync(HOST_ROLE_RULES_FILE, 'utf8')).toBe(renderHostRoleRules());
});
