/**
 * The platform's side of platform apps: app instances, their members and member
 * operations, the allocations members are bound to, node tasks for node-agents
 * and node enrollment tokens. Plain state; who moves it forward is the
 * controller (controller.ts) and the node-agents (node-agent.ts).
 */
import { randomBytes } from 'node:crypto';
import { ALLOCATION_USER } from './fleet';

export type InstanceStatus = 'deploying' | 'running' | 'failed';
export type MemberRole = 'controller' | 'worker';
export type MemberState = 'reconciling' | 'ready' | 'failed';
export type OperationKind = 'worker_add' | 'worker_remove';
export type OperationState = 'accepted' | 'running' | 'succeeded' | 'failed';
export type TaskState = 'queued' | 'dispatched' | 'completed' | 'failed';
export const RECONCILE_KEY_TASK = 'allocation.reconcile_managed_authorized_key';
/** The scheduler binds a new app allocation to its node this long after it is requested (real ms). */
export const ALLOCATION_BIND_MS = 4_000;

export interface AppInstance {
  id: string;
  project_id: string;
  app_slug: string;
  name: string;
  status: InstanceStatus;
  controller_allocation_id: string;
  created_at: string;
  updated_at: string;
}

export interface AppAllocation {
  id: string;
  node_id: string;
  project_id: string;
  app_instance_id: string;
  role: MemberRole;
  ssh_user: string;
  state: 'pending' | 'active' | 'released';
  bound: boolean;
  created_at: string;
  bound_at: string | null;
  released_at: string | null;
}

export interface AdapterDetail {
  host: string;
  hostname: string;
  phase: string;
  slurmctld_state: string;
  slurmd_state: string;
  last_error: string | null;
}

export interface Member {
  id: string;
  app_instance_id: string;
  role: MemberRole;
  node_id: string;
  allocation_id: string;
  state: MemberState;
  adapter_detail: AdapterDetail;
  created_at: string;
  updated_at: string;
}

export interface MemberOperation {
  id: string;
  app_instance_id: string;
  kind: OperationKind;
  node_id: string;
  member_id: string | null;
  state: OperationState;
  error: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface NodeTask {
  id: string;
  node_id: string;
  type: string;
  state: TaskState;
  allocation_id: string;
  app_instance_id: string;
  error: string | null;
  created_at: string;
  dispatched_at: string | null;
  completed_at: string | null;
}

interface Token {
  token: string;
  expires_at: string;
  used: boolean;
}

const id = (prefix: string) => `${prefix}-${randomBytes(6).toString('hex')}`;
const iso = (d = new Date()) => d.toISOString();

/** A fresh OpenSSH ed25519 public key line (random key material, correct wire format). */
export function newManagedPublicKey(comment: string): string {
  const name = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + name.length + 4 + 32);
  blob.writeUInt32BE(name.length, 0);
  name.copy(blob, 4);
  blob.writeUInt32BE(32, 4 + name.length);
  randomBytes(32).copy(blob, 8 + name.length);
  return `ssh-ed25519 ${blob.toString('base64')} ${comment}`;
}

export function newEnrollmentToken(): string {
  return `gpet_${randomBytes(24).toString('base64url')}`;
}

export class AppPlatform {
  private instances = new Map<string, AppInstance>();
  /** The managed bootstrap key of each instance (what the reconcile task installs). */
  private managedKeys = new Map<string, string>();
  private allocations = new Map<string, AppAllocation>();
  private members = new Map<string, Member[]>();
  private operations = new Map<string, MemberOperation[]>();
  private tasks: NodeTask[] = [];
  private tokens = new Map<string, Token>();
  private allocationSeq = 0;
  /** When a controller last reported in (its reconcile pass); null = never in this environment. */
  controllerSeenAt: Date | null = null;

  reset(): void {
    this.instances.clear();
    this.managedKeys.clear();
    this.allocations.clear();
    this.members.clear();
    this.operations.clear();
    this.tasks = [];
    this.tokens.clear();
    this.allocationSeq = 0;
    this.controllerSeenAt = null;
  }

  // -- instances -------------------------------------------------------------------------------

  createInstance(
    input: { id?: string; project_id: string; app_slug: string; name: string; controller_node_id: string },
    addressOf: (nodeId: string) => { host: string; hostname: string },
  ): { instance: AppInstance; allocation: AppAllocation; member: Member } {
    const now = iso();
    const instanceId = input.id ?? id('ai');
    const allocation = this.newAllocation(input.controller_node_id, input.project_id, instanceId, 'controller');
    const instance: AppInstance = {
      id: instanceId,
      project_id: input.project_id,
      app_slug: input.app_slug,
      name: input.name,
      status: 'deploying',
      controller_allocation_id: allocation.id,
      created_at: now,
      updated_at: now,
    };
    this.instances.set(instanceId, instance);
    this.managedKeys.set(instanceId, newManagedPublicKey(`gpuaas-managed app_instance=${instanceId}`));
    const member = this.newMember(instanceId, 'controller', input.controller_node_id, allocation.id, addressOf(input.controller_node_id));
    this.members.set(instanceId, [member]);
    this.operations.set(instanceId, []);
    return { instance: { ...instance }, allocation: { ...allocation }, member: structuredClone(member) };
  }

  /** Deletes an instance with its members, operations and node tasks; its allocations are released. */
  removeInstance(instanceId: string): void {
    this.instances.delete(instanceId);
    this.managedKeys.delete(instanceId);
    this.members.delete(instanceId);
    this.operations.delete(instanceId);
    this.tasks = this.tasks.filter((t) => t.app_instance_id !== instanceId);
    for (const a of this.allocations.values()) if (a.app_instance_id === instanceId) a.state = 'released';
  }

  instance(instanceId: string): AppInstance | undefined {
    return this.instances.get(instanceId);
  }

  listInstances(): AppInstance[] {
    return [...this.instances.values()];
  }

  findByName(projectId: string, name: string): AppInstance | undefined {
    return [...this.instances.values()].find((i) => i.project_id === projectId && i.name === name);
  }

  setStatus(instanceId: string, status: InstanceStatus): void {
    const i = this.instances.get(instanceId);
    if (i && i.status !== status) {
      i.status = status;
      i.updated_at = iso();
    }
  }

  managedKey(instanceId: string): string | undefined {
    return this.managedKeys.get(instanceId);
  }

  // -- allocations -----------------------------------------------------------------------------

  allocation(allocationId: string): AppAllocation | undefined {
    return this.allocations.get(allocationId);
  }

  /** The scheduler bound the allocation to its node: it is active from now on. */
  bind(allocationId: string): void {
    const a = this.allocations.get(allocationId);
    if (a && a.state === 'pending') {
      a.state = 'active';
      a.bound = true;
      a.bound_at = iso();
    }
  }

  release(allocationId: string): void {
    const a = this.allocations.get(allocationId);
    if (a && a.state !== 'released') {
      a.state = 'released';
      a.bound = false;
      a.released_at = iso();
    }
  }

  newAllocation(nodeId: string, projectId: string, instanceId: string, role: MemberRole): AppAllocation {
    const a: AppAllocation = {
      id: `alloc-a${String(++this.allocationSeq).padStart(5, '0')}`,
      node_id: nodeId,
      project_id: projectId,
      app_instance_id: instanceId,
      role,
      ssh_user: ALLOCATION_USER,
      state: 'pending',
      bound: false,
      created_at: iso(),
      bound_at: null,
      released_at: null,
    };
    this.allocations.set(a.id, a);
    return a;
  }

  // -- members ---------------------------------------------------------------------------------

  listMembers(instanceId: string): Member[] {
    return this.members.get(instanceId) ?? [];
  }

  member(instanceId: string, memberId: string): Member | undefined {
    return this.listMembers(instanceId).find((m) => m.id === memberId);
  }

  memberOnNode(instanceId: string, nodeId: string): Member | undefined {
    return this.listMembers(instanceId).find((m) => m.node_id === nodeId);
  }

  newMember(instanceId: string, role: MemberRole, nodeId: string, allocationId: string, address: { host: string; hostname: string }): Member {
    const now = iso();
    return {
      id: id('mem'),
      app_instance_id: instanceId,
      role,
      node_id: nodeId,
      allocation_id: allocationId,
      state: 'reconciling',
      adapter_detail: {
        host: address.host,
        hostname: address.hostname,
        phase: 'pending',
        slurmctld_state: 'unknown',
        slurmd_state: 'unknown',
        last_error: null,
      },
      created_at: now,
      updated_at: now,
    };
  }

  addMember(m: Member): void {
    this.members.set(m.app_instance_id, [...this.listMembers(m.app_instance_id), m]);
  }

  removeMember(instanceId: string, memberId: string): void {
    this.members.set(
      instanceId,
      this.listMembers(instanceId).filter((m) => m.id !== memberId),
    );
  }

  /** The controller reports on a member; only real changes move updated_at. */
  updateMember(m: Member, change: { state?: MemberState; detail?: Partial<AdapterDetail> }): void {
    const before = JSON.stringify([m.state, m.adapter_detail]);
    if (change.state) m.state = change.state;
    if (change.detail) m.adapter_detail = { ...m.adapter_detail, ...change.detail };
    if (JSON.stringify([m.state, m.adapter_detail]) !== before) m.updated_at = iso();
  }

  // -- member operations -----------------------------------------------------------------------

  listOperations(instanceId: string): MemberOperation[] {
    return this.operations.get(instanceId) ?? [];
  }

  createOperation(instanceId: string, kind: OperationKind, nodeId: string, memberId: string | null): MemberOperation {
    const now = iso();
    const op: MemberOperation = {
      id: id('mop'),
      app_instance_id: instanceId,
      kind,
      node_id: nodeId,
      member_id: memberId,
      state: 'accepted',
      error: null,
      created_at: now,
      updated_at: now,
      started_at: null,
      finished_at: null,
    };
    this.operations.set(instanceId, [...this.listOperations(instanceId), op]);
    return op;
  }

  setOperation(op: MemberOperation, state: OperationState, error: string | null = null): void {
    const now = iso();
    op.state = state;
    op.error = error;
    op.updated_at = now;
    if (state === 'running' && !op.started_at) op.started_at = now;
    if (state === 'succeeded' || state === 'failed') op.finished_at = now;
  }

  // -- node tasks ------------------------------------------------------------------------------

  createTask(nodeId: string, type: string, allocationId: string, instanceId: string): NodeTask {
    const t: NodeTask = {
      id: id('nt'),
      node_id: nodeId,
      type,
      state: 'queued',
      allocation_id: allocationId,
      app_instance_id: instanceId,
      error: null,
      created_at: iso(),
      dispatched_at: null,
      completed_at: null,
    };
    this.tasks.push(t);
    return t;
  }

  task(taskId: string): NodeTask | undefined {
    return this.tasks.find((t) => t.id === taskId);
  }

  tasksForNode(nodeId: string): NodeTask[] {
    return this.tasks.filter((t) => t.node_id === nodeId);
  }

  // -- enrollment tokens -----------------------------------------------------------------------

  /** A new token for the node; the previous one stops working at once. */
  mintToken(nodeId: string, validForMs: number, now = new Date()): { token: string; expires_at: string } {
    const t: Token = { token: newEnrollmentToken(), expires_at: new Date(now.getTime() + validForMs).toISOString(), used: false };
    this.tokens.set(nodeId, t);
    return { token: t.token, expires_at: t.expires_at };
  }

  /** Enrollment: single use; a superseded, used or expired token is token_invalid. */
  redeemToken(nodeId: string, token: string, now = new Date()): boolean {
    const t = this.tokens.get(nodeId);
    if (!t || t.used || t.token !== token || Date.parse(t.expires_at) <= now.getTime()) return false;
    t.used = true;
    return true;
  }

  tokenSnapshot(nodeId: string): { expires_at: string; used: boolean } | null {
    const t = this.tokens.get(nodeId);
    return t ? { expires_at: t.expires_at, used: t.used } : null;
  }
}
