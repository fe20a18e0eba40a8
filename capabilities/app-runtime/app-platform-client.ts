import { z } from 'zod';
import type { PlatformClient } from '../platform/platform-client';
import { appRuntimeRequests } from './requests';

/** The platform's app-runtime answers, as the runbooks read them (extra fields are ignored). */
export const AppInstanceSchema = z.object({
  id: z.string(),
  project_id: z.string(),
  app_slug: z.string(),
  name: z.string(),
  status: z.string(),
  controller_allocation_id: z.string(),
});
export type AppInstance = z.infer<typeof AppInstanceSchema>;

export const AdapterDetailSchema = z.object({
  host: z.string(),
  hostname: z.string(),
  phase: z.string(),
  slurmctld_state: z.string(),
  slurmd_state: z.string(),
  last_error: z.string().nullable(),
});

export const MemberSchema = z.object({
  id: z.string(),
  role: z.enum(['controller', 'worker']),
  node_id: z.string(),
  allocation_id: z.string(),
  state: z.string(),
  adapter_detail: AdapterDetailSchema,
});
export type Member = z.infer<typeof MemberSchema>;

export const MemberOperationSchema = z.object({
  id: z.string(),
  kind: z.enum(['worker_add', 'worker_remove']),
  node_id: z.string(),
  state: z.enum(['accepted', 'running', 'succeeded', 'failed']),
  error: z.string().nullable(),
});
export type MemberOperation = z.infer<typeof MemberOperationSchema>;

export const AllocationViewSchema = z.object({ id: z.string(), node_id: z.string(), state: z.string(), bound: z.boolean(), ssh_user: z.string().optional() });
export type AllocationView = z.infer<typeof AllocationViewSchema>;

export const NodeTaskSchema = z.object({
  id: z.string(),
  node_id: z.string(),
  type: z.string(),
  state: z.enum(['queued', 'dispatched', 'completed', 'failed']),
  error: z.string().nullable().optional(),
});
export type NodeTask = z.infer<typeof NodeTaskSchema>;

/** The node task a bootstrap SSH reconcile creates. */
export const RECONCILE_KEY_TASK = 'allocation.reconcile_managed_authorized_key';

/** Typed calls for the app-runtime requests, over the platform client (its auth, timeouts, idempotency keys). */
export class AppPlatformClient {
  constructor(private readonly platform: PlatformClient) {}

  /** The instance, or null when the platform does not know it. */
  async instance(projectId: string, appInstanceId: string): Promise<AppInstance | null> {
    try {
      return await this.platform.send(appRuntimeRequests.getAppInstance(projectId, appInstanceId), AppInstanceSchema);
    } catch (err) {
      if ((err as { type?: string }).type === 'NotFound') return null;
      throw err;
    }
  }

  createInstance(projectId: string, body: { id: string; app_slug: string; name: string; controller_node_id: string }, key: string): Promise<AppInstance> {
    return this.platform.send(appRuntimeRequests.createAppInstance(projectId, body), AppInstanceSchema, key);
  }

  async members(projectId: string, appInstanceId: string): Promise<Member[]> {
    return (await this.platform.send(appRuntimeRequests.listMembers(projectId, appInstanceId), z.object({ members: z.array(MemberSchema) }))).members;
  }

  async operations(projectId: string, appInstanceId: string): Promise<MemberOperation[]> {
    return (
      await this.platform.send(appRuntimeRequests.listMemberOperations(projectId, appInstanceId), z.object({ operations: z.array(MemberOperationSchema) }))
    ).operations;
  }

  createOperation(
    projectId: string,
    appInstanceId: string,
    body: { kind: 'worker_add' | 'worker_remove'; node_id: string },
    key: string,
  ): Promise<MemberOperation> {
    return this.platform.send(appRuntimeRequests.createMemberOperation(projectId, appInstanceId, body), MemberOperationSchema, key);
  }

  allocation(allocationId: string): Promise<AllocationView> {
    return this.platform.send(appRuntimeRequests.getAllocation(allocationId), AllocationViewSchema);
  }

  async nodeTasks(nodeId: string): Promise<NodeTask[]> {
    return (await this.platform.send(appRuntimeRequests.listNodeTasks(nodeId), z.object({ tasks: z.array(NodeTaskSchema) }))).tasks;
  }

  nodeTask(taskId: string): Promise<NodeTask> {
    return this.platform.send(appRuntimeRequests.getNodeTask(taskId), NodeTaskSchema);
  }

  reconcileBootstrapSsh(projectId: string, appInstanceId: string, key: string): Promise<{ node_task_id: string; node_id: string }> {
    return this.platform.send(
      appRuntimeRequests.reconcileBootstrapSsh(projectId, appInstanceId),
      z.object({ node_task_id: z.string(), node_id: z.string() }),
      key,
    );
  }

  /** A fresh enrollment token: it stays in the activity that writes it to the host, never in a result or a record. */
  mintEnrollmentToken(nodeId: string, key: string): Promise<{ token: string; expires_at: string }> {
    return this.platform.send(appRuntimeRequests.mintEnrollmentToken(nodeId), z.object({ token: z.string().min(1), expires_at: z.string() }), key);
  }
}
