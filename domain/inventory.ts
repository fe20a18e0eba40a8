import { z } from 'zod';
import { HostRoleSchema } from './host-roles';

/**
 * A pinned SSH host key in OpenSSH public-key form ("ssh-ed25519 AAAA... [comment]"),
 * as found in known_hosts or /etc/ssh/ssh_host_*_key.pub.
 */
export const HostKeySchema = z
  .string()
  .regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/, 'expected an OpenSSH public key line');

export const NodeIdSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'node_id: lowercase letters, digits, ".", "_" or "-", at most 63 characters');

export const InventoryHostSchema = z
  .object({
    /** Identity used by the platform API (cordon, allocations). */
    node_id: NodeIdSchema,
    /** Display/identity hostname. Never used to connect. */
    hostname: z.string().min(1),
    role: HostRoleSchema,
    /** Transport address the SSH client connects to. */
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(22),
    user: z.string().min(1).default('root'),
    host_key: HostKeySchema,
    gpu_count: z.number().int().min(0).default(0),
    /**
     * Disruption scopes the node belongs to, e.g. {rack: "r12", pool: "h100-a"}: each
     * label with a configured budget is a scope whose nodes share that budget.
     */
    labels: z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'label names: lowercase letters, digits, "_" or "-"'), z.string().min(1).max(63)).default({}),
    /** Drills (run_mode: drill) may target this node: lab hosts, a staging pool. */
    drillable: z.boolean().default(false),
  })
  .strict();
export type InventoryHost = z.infer<typeof InventoryHostSchema>;

export const InventorySchema = z
  .object({
    hosts: z.array(InventoryHostSchema).min(1),
  })
  .strict()
  .superRefine((inv, ctx) => {
    const seen = new Set<string>();
    inv.hosts.forEach((h, i) => {
      if (seen.has(h.node_id)) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['hosts', i, 'node_id'], message: `duplicate node_id ${h.node_id}` });
      }
      seen.add(h.node_id);
    });
  });
export type Inventory = z.infer<typeof InventorySchema>;

export function findHost(inventory: Inventory, nodeId: string): InventoryHost | undefined {
  return inventory.hosts.find((h) => h.node_id === nodeId);
}
