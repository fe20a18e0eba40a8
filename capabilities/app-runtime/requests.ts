import type { PlatformRequest } from '../platform/requests';

/**
 * The platform API calls of the platform-app runbooks, named as the seed page names
 * them. Pure data: the client sends exactly these and plan mode shows exactly these.
 */
const instance = (projectId: string, appInstanceId: string) =>
  `/api/v1/projects/${encodeURIComponent(projectId)}/app-instances/${encodeURIComponent(appInstanceId)}`;

export const appRuntimeRequests = {
  createAppInstance: (projectId: string, body: { id?: string; app_slug: string; name: string; controller_node_id: string }): PlatformRequest => ({
    method: 'POST',
    path: `/api/v1/projects/${encodeURIComponent(projectId)}/app-instances`,
    body,
    mutates: true,
  }),
  getAppInstance: (projectId: string, appInstanceId: string): PlatformRequest => ({ method: 'GET', path: instance(projectId, appInstanceId), mutates: false }),
  listMembers: (projectId: string, appInstanceId: string): PlatformRequest => ({
    method: 'GET',
    path: `${instance(projectId, appInstanceId)}/members`,
    mutates: false,
  }),
  listMemberOperations: (projectId: string, appInstanceId: string): PlatformRequest => ({
    method: 'GET',
    path: `${instance(projectId, appInstanceId)}/member-operations`,
    mutates: false,
  }),
  createMemberOperation: (projectId: string, appInstanceId: string, body: { kind: 'worker_add' | 'worker_remove'; node_id: string }): PlatformRequest => ({
    method: 'POST',
    path: `${instance(projectId, appInstanceId)}/member-operations`,
    body,
    mutates: true,
  }),
  reconcileBootstrapSsh: (projectId: string, appInstanceId: string): PlatformRequest => ({
    method: 'POST',
    path: `${instance(projectId, appInstanceId)}/bootstrap-ssh/reconcile`,
    mutates: true,
  }),
  getNodeTask: (taskId: string): PlatformRequest => ({ method: 'GET', path: `/api/v1/admin/node-tasks/${encodeURIComponent(taskId)}`, mutates: false }),
  listNodeTasks: (nodeId: string): PlatformRequest => ({ method: 'GET', path: `/api/v1/admin/nodes/${encodeURIComponent(nodeId)}/tasks`, mutates: false }),
  mintEnrollmentToken: (nodeId: string): PlatformRequest => ({
    method: 'POST',
    path: `/api/v1/admin/nodes/${encodeURIComponent(nodeId)}/enrollment-token`,
    mutates: true,
  }),
  getAllocation: (allocationId: string): PlatformRequest => ({
    method: 'GET',
    path: `/api/v1/allocations/${encodeURIComponent(allocationId)}`,
    mutates: false,
  }),
};
