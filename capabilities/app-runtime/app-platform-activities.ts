import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { StepContext } from '../../domain/step-context';
import type { EvidenceStore } from '../evidence/evidence-store';
import {
  RECONCILE_KEY_TASK,
  type AllocationView,
  type AppInstance,
  type AppPlatformClient,
  type Member,
  type MemberOperation,
  type NodeTask,
} from './app-platform-client';

export interface DeployState {
  instance: AppInstance | null;
  members: Member[];
  operations: MemberOperation[];
}

/** The app-runtime side of the platform API, for the platform-app runbooks. */
export function createAppPlatformActivities(deps: { appPlatform: AppPlatformClient; evidence: EvidenceStore }) {
  const { appPlatform, evidence } = deps;

  const record = (ctx: StepContext, suffix: string, summary: string, data: unknown) =>
    evidence.record(ctx, { idempotency_key: `${ctx.idempotency_key}/${suffix}`, kind: 'note', summary, data });

  return {
    /** The instance, its members and member operations, read in the page's order (null instance: the platform has none). */
    async readDeployState(ctx: StepContext, projectId: string, appInstanceId: string): Promise<DeployState> {
      const instance = await appPlatform.instance(projectId, appInstanceId);
      if (!instance) return { instance: null, members: [], operations: [] };
      const members = await appPlatform.members(projectId, appInstanceId);
      const operations = await appPlatform.operations(projectId, appInstanceId);
      await record(ctx, 'deploy_state', `app instance ${appInstanceId}: ${instance.status}`, { instance, members, operations });
      return { instance, members, operations };
    },

    async createAppInstance(
      ctx: StepContext,
      projectId: string,
      body: { id: string; app_slug: string; name: string; controller_node_id: string },
    ): Promise<AppInstance> {
      return appPlatform.createInstance(projectId, body, `${ctx.idempotency_key}/create`);
    },

    async readAllocation(_ctx: StepContext, allocationId: string): Promise<AllocationView> {
      return appPlatform.allocation(allocationId);
    },

    /** Follows a new controller allocation until it is active and bound to its node, or the timeout, heartbeating. */
    async waitForAllocationBound(_ctx: StepContext, allocationId: string, timeoutMs: number, pollMs: number): Promise<AllocationView> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const allocation = await appPlatform.allocation(allocationId);
        heartbeat({ state: allocation.state, bound: allocation.bound });
        if ((allocation.state === 'active' && allocation.bound) || Date.now() >= deadline) return allocation;
        await sleep(pollMs);
      }
    },

    /** Asks the platform to add or remove a worker member; the operation then runs on its own. */
    async requestMemberOperation(
      ctx: StepContext,
      projectId: string,
      appInstanceId: string,
      kind: 'worker_add' | 'worker_remove',
      nodeId: string,
    ): Promise<MemberOperation> {
      return appPlatform.createOperation(projectId, appInstanceId, { kind, node_id: nodeId }, `${ctx.idempotency_key}/operation`);
    },

    /** Follows a member operation (accepted → running → succeeded / failed) until it ends or the timeout, heartbeating. */
    async waitForMemberOperation(
      _ctx: StepContext,
      projectId: string,
      appInstanceId: string,
      operationId: string,
      timeoutMs: number,
      pollMs: number,
    ): Promise<MemberOperation> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const op = (await appPlatform.operations(projectId, appInstanceId)).find((o) => o.id === operationId);
        if (!op) throw ApplicationFailure.nonRetryable(`member operation ${operationId} is gone from ${appInstanceId}`, ErrorType.NotFound);
        heartbeat({ state: op.state });
        if (op.state === 'succeeded' || op.state === 'failed' || Date.now() >= deadline) return op;
        await sleep(pollMs);
      }
    },

    /** Bootstrap reconcile tasks of a node that are still queued (they wait for its agent). */
    async queuedReconcileTasks(_ctx: StepContext, nodeId: string): Promise<NodeTask[]> {
      return (await appPlatform.nodeTasks(nodeId)).filter((t) => t.type === RECONCILE_KEY_TASK && t.state === 'queued');
    },

    async requestBootstrapReconcile(ctx: StepContext, projectId: string, appInstanceId: string): Promise<{ node_task_id: string; node_id: string }> {
      return appPlatform.reconcileBootstrapSsh(projectId, appInstanceId, `${ctx.idempotency_key}/reconcile`);
    },

    /** Follows a node task until it completes or fails, or the timeout (then its last state), heartbeating. */
    async waitForNodeTask(_ctx: StepContext, taskId: string, timeoutMs: number, pollMs: number): Promise<NodeTask> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const task = await appPlatform.nodeTask(taskId);
        heartbeat({ state: task.state });
        if (task.state === 'completed' || task.state === 'failed' || Date.now() >= deadline) return task;
        await sleep(pollMs);
      }
    },

    /** Follows the instance until it is running with a ready controller, or the timeout (then as it stands). */
    async waitForInstanceRunning(ctx: StepContext, projectId: string, appInstanceId: string, timeoutMs: number, pollMs: number): Promise<DeployState> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const instance = await appPlatform.instance(projectId, appInstanceId);
        const members = instance ? await appPlatform.members(projectId, appInstanceId) : [];
        const controller = members.find((m) => m.role === 'controller');
        heartbeat({ status: instance?.status, controller: controller?.state });
        if ((instance?.status === 'running' && controller?.state === 'ready') || Date.now() >= deadline) {
          const operations = instance ? await appPlatform.operations(projectId, appInstanceId) : [];
          await record(ctx, 'converged', `app instance ${appInstanceId}: ${instance?.status ?? 'gone'}`, { instance, members, operations });
          return { instance, members, operations };
        }
        await sleep(pollMs);
      }
    },
  };
}

export type AppPlatformActivities = ReturnType<typeof createAppPlatformActivities>;
