import { z } from 'zod';

/**
 * Who may do what through the API. Every role can read; `admin` can do
 * everything. The actor of any action is the authenticated principal, never a
 * field of the request.
 */
export const ROLES = ['viewer', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = z.enum(ROLES);

/** What each role adds to reading, for the docs and the 403 message. */
export const ROLE_GRANTS: Record<Role, string> = {
  viewer: 'read runs, plans, budgets, drills and the audit trail',
  operator: 'start and cancel runs',
  approver: 'decide approvals',
  admin: 'manage tokens, drills and disruption budgets (and everything else)',
};

export const PrincipalNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$/, 'a principal is 1-128 characters of letters, digits and . _ @ + -, starting with a letter or digit');

export interface Principal {
  name: string;
  roles: Role[];
  /** How the request proved it: an API token (with its id) or an OIDC JWT. */
  via: 'token' | 'oidc';
  token_id?: string;
}

export function hasRole(principal: Principal, needed: Role): boolean {
  if (principal.roles.includes('admin')) return true;
  if (needed === 'viewer') return principal.roles.length > 0;
  return principal.roles.includes(needed);
}

/** Principals the engine knows by name (the tokens file): what a signal's actor is checked against. */
export interface KnownPrincipals {
  /** Every role the principal's tokens carry; undefined for a name no token belongs to. */
  rolesOf(principal: string): Role[] | undefined;
}
