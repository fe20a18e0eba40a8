import type { KnownPrincipals, Role } from '../../domain/principals';

/**
 * The tests' principals: one per role for the API, a second approver and a second
 * operator for the two-person rule, and the on-call approvers the workflow tests
 * sign approval signals as.
 */
export const TEST_PRINCIPALS = {
  admin: ['admin'],
  olga: ['operator'],
  oscar: ['operator'],
  alice: ['approver'],
  bob: ['approver'],
  vic: ['viewer'],
  'sre-oncall': ['approver'],
  'sre-second': ['approver'],
  'sre-reject': ['approver'],
} as const satisfies Record<string, readonly Role[]>;
export type TestPrincipal = keyof typeof TEST_PRINCIPALS;

/** The on-call approvers `decide` signs as, in order, until an approval has enough of them. */
export const SIGNAL_APPROVERS = ['sre-oncall', 'sre-second'] as const;

/** What a test worker checks approval signals against, as a real worker checks the tokens file. */
export const testDirectory: KnownPrincipals = {
  rolesOf: (name) => (name in TEST_PRINCIPALS ? [...TEST_PRINCIPALS[name as TestPrincipal]] : undefined),
};
