/**
 * The platform API's app-runtime routes, named as seed 001 names them: app
 * instances, members, member operations, bootstrap SSH reconcile, node tasks,
 * enrollment tokens and allocations. Bearer token as every /api route
 * (platform-api.ts's hook); Idempotency-Key on every POST.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { sendError, sendInvalid } from '../http-errors';
import type { IdempotencyStore } from '../idempotency';
import type { Records } from '../records';
import type { AppRuntime } from './app-runtime';
import { idempotentPost } from './idempotent-post';

export interface AppRoutesDeps {
  runtime: AppRuntime;
  records: Records;
  idempotency: IdempotencyStore;
  /** The scheduler's own allocations (tenant workloads), for GET /api/v1/allocations/{id}. */
  otherAllocation(id: string): Record<string, unknown> | undefined;
}

const ProjectId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/, 'expected a project id');
const CreateBody = z
  .object({
    /** A caller-chosen instance id (the platform makes one when it is absent). */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{2,62}$/, 'expected an id of 3-63 lowercase letters, digits and dashes')
      .optional(),
    app_slug: z.string().min(1).max(64),
    name: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a DNS label (lowercase letters, digits, dashes; 1-63)'),
    controller_node_id: z.string().min(1).max(64),
  })
  .strict();
const OperationBody = z.object({ kind: z.enum(['worker_add', 'worker_remove']), node_id: z.string().min(1).max(64) }).strict();
const ReconcileBody = z.object({}).strict();
const EmptyBody = z.object({}).strict();
const InstanceParams = z.object({ project_id: z.string(), app_instance_id: z.string() });
const TaskQuery = z.object({ state: z.enum(['queued', 'dispatched', 'completed', 'failed']).optional() }).strict();

export function registerAppRuntimeRoutes(app: FastifyInstance, deps: AppRoutesDeps): void {
  const { runtime } = deps;
  const { platform } = runtime;
  const idempotent = idempotentPost(deps);
  const answered = (_r: FastifyReply): null => null;

  const instanceOf = (params: unknown) => {
    const p = InstanceParams.parse(params);
    const inst = platform.instance(p.app_instance_id);
    return inst && inst.project_id === p.project_id ? inst : undefined;
  };
  const noInstance = (reply: FastifyReply, params: unknown) =>
    sendError(
      reply,
      404,
      'app_instance_not_found',
      `no app instance ${InstanceParams.parse(params).app_instance_id} in project ${InstanceParams.parse(params).project_id}`,
    );
  const workerNode = (nodeId: string) => runtime.host(nodeId);

  app.post('/api/v1/projects/:project_id/app-instances', async (req, reply) =>
    idempotent(req, reply, 'app_instance_create', () => {
      const project = ProjectId.safeParse((req.params as { project_id: string }).project_id);
      if (!project.success) return answered(sendInvalid(reply, project.error));
      const body = CreateBody.safeParse(req.body ?? {});
      if (!body.success) return answered(sendInvalid(reply, body.error));
      const { id, app_slug, name, controller_node_id } = body.data;
      if (app_slug !== 'slurm-reference')
        return answered(sendError(reply, 422, 'unsupported_app_slug', `no app ${app_slug}; this environment offers slurm-reference`));
      const node = workerNode(controller_node_id);
      if (!node) return answered(sendError(reply, 404, 'node_not_found', `no node ${controller_node_id}`));
      if (!node.isWorker)
        return answered(
          sendError(reply, 422, 'node_not_worker_compute', `${controller_node_id} is ${node.role}; app allocations land on worker_compute nodes`),
        );
      if (platform.findByName(project.data, name))
        return answered(sendError(reply, 409, 'app_instance_exists', `an app instance named ${name} already exists in ${project.data}`));
      if (id !== undefined && platform.instance(id)) return answered(sendError(reply, 409, 'app_instance_exists', `an app instance ${id} already exists`));
      const created = runtime.createInstance({ id, project_id: project.data, app_slug, name, controller_node_id });
      return {
        status: 201,
        body: created.instance,
        nodeId: controller_node_id,
        detail: { app_instance_id: created.instance.id, controller_allocation_id: created.allocation.id, name },
      };
    }),
  );

  app.get('/api/v1/projects/:project_id/app-instances/:app_instance_id', async (req, reply) => instanceOf(req.params) ?? noInstance(reply, req.params));

  app.get('/api/v1/projects/:project_id/app-instances/:app_instance_id/members', async (req, reply) => {
    const inst = instanceOf(req.params);
    if (!inst) return noInstance(reply, req.params);
    return { members: runtime.membersView(inst) };
  });

  app.get('/api/v1/projects/:project_id/app-instances/:app_instance_id/member-operations', async (req, reply) => {
    const inst = instanceOf(req.params);
    if (!inst) return noInstance(reply, req.params);
    return { operations: platform.listOperations(inst.id) };
  });

  app.post('/api/v1/projects/:project_id/app-instances/:app_instance_id/member-operations', async (req, reply) =>
    idempotent(req, reply, 'member_operation', () => {
      const inst = instanceOf(req.params);
      if (!inst) return answered(noInstance(reply, req.params));
      const body = OperationBody.safeParse(req.body ?? {});
      if (!body.success) return answered(sendInvalid(reply, body.error));
      const { kind, node_id } = body.data;
      if (inst.status === 'failed') return answered(sendError(reply, 409, 'app_instance_failed', `app instance ${inst.id} has failed`));
      const node = workerNode(node_id);
      if (!node) return answered(sendError(reply, 404, 'node_not_found', `no node ${node_id}`));
      const member = platform.memberOnNode(inst.id, node_id);
      if (platform.listOperations(inst.id).some((o) => o.node_id === node_id && (o.state === 'accepted' || o.state === 'running'))) {
        return answered(sendError(reply, 409, 'operation_in_progress', `a member operation for ${node_id} is already in progress`));
      }
      if (kind === 'worker_add') {
        if (!node.isWorker)
          return answered(sendError(reply, 422, 'node_not_worker_compute', `${node_id} is ${node.role}; workers must be worker_compute nodes`));
        if (member) return answered(sendError(reply, 409, 'member_exists', `${node_id} is already member ${member.id} (${member.state}) of ${inst.id}`));
      } else {
        if (!member) return answered(sendError(reply, 404, 'member_not_found', `${node_id} is not a member of ${inst.id}`));
        if (member.role === 'controller')
          return answered(sendError(reply, 422, 'cannot_remove_controller', `${node_id} holds the controller member of ${inst.id}`));
      }
      const op = platform.createOperation(inst.id, kind, node_id, member?.id ?? null);
      return { status: 202, body: op, nodeId: node_id, detail: { app_instance_id: inst.id, operation_id: op.id, kind } };
    }),
  );

  app.post('/api/v1/projects/:project_id/app-instances/:app_instance_id/bootstrap-ssh/reconcile', async (req, reply) =>
    idempotent(req, reply, 'bootstrap_ssh_reconcile', () => {
      const inst = instanceOf(req.params);
      if (!inst) return answered(noInstance(reply, req.params));
      const body = ReconcileBody.safeParse(req.body ?? {});
      if (!body.success) return answered(sendInvalid(reply, body.error));
      const allocation = platform.allocation(inst.controller_allocation_id);
      if (!allocation || allocation.state !== 'active') {
        return answered(sendError(reply, 409, 'allocation_not_bound', `controller allocation ${inst.controller_allocation_id} is not active and bound yet`));
      }
      const task = runtime.requestKeyReconcile(inst.id, allocation.id);
      return {
        status: 202,
        body: { node_task_id: task.id, node_id: task.node_id, allocation_id: allocation.id },
        nodeId: task.node_id,
        detail: { app_instance_id: inst.id, node_task_id: task.id },
      };
    }),
  );

  app.get('/api/v1/admin/node-tasks/:task_id', async (req, reply) => {
    const { task_id } = z.object({ task_id: z.string() }).parse(req.params);
    return platform.task(task_id) ?? sendError(reply, 404, 'node_task_not_found', `no node task ${task_id}`);
  });

  app.get('/api/v1/admin/nodes/:node_id/tasks', async (req, reply) => {
    const { node_id } = z.object({ node_id: z.string() }).parse(req.params);
    const q = TaskQuery.safeParse(req.query ?? {});
    if (!q.success) return sendInvalid(reply, q.error);
    if (!runtime.host(node_id)) return sendError(reply, 404, 'node_not_found', `no node ${node_id}`);
    return { tasks: platform.tasksForNode(node_id).filter((t) => q.data.state === undefined || t.state === q.data.state) };
  });

  app.post('/api/v1/admin/nodes/:node_id/enrollment-token', async (req, reply) =>
    idempotent(req, reply, 'enrollment_token', () => {
      const { node_id } = z.object({ node_id: z.string() }).parse(req.params);
      const body = EmptyBody.safeParse(req.body ?? {});
      if (!body.success) return answered(sendInvalid(reply, body.error));
      const node = runtime.host(node_id);
      if (!node?.isWorker) return answered(sendError(reply, 404, 'node_not_found', `no node-agent node ${node_id}`));
      const minted = runtime.mintEnrollmentToken(node_id);
      // The record keeps when it expires, never the token.
      return { status: 201, body: { node_id, ...minted }, nodeId: node_id, detail: { expires_at: minted.expires_at } };
    }),
  );

  app.get('/api/v1/allocations/:allocation_id', async (req, reply) => {
    const { allocation_id } = z.object({ allocation_id: z.string() }).parse(req.params);
    return (
      runtime.allocationView(allocation_id) ??
      deps.otherAllocation(allocation_id) ??
      sendError(reply, 404, 'allocation_not_found', `no allocation ${allocation_id}`)
    );
  });
}
