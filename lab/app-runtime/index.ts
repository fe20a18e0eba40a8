/**
 * The platform-app runtime of the lab (seed 001, "Slurm Reference Instance Stuck
 * In deploying"): build it for the lab's hosts, give each host its programs,
 * and register its platform and lab-admin routes.
 */
import type { FastifyInstance } from 'fastify';
import type { IdempotencyStore } from '../idempotency';
import type { PlatformState } from '../platform-state';
import type { Records } from '../records';
import { registerAppRuntimeAdmin } from './admin-routes';
import type { AppRuntime } from './app-runtime';
import { registerAppRuntimeRoutes } from './platform-routes';

export { AppRuntime } from './app-runtime';
export { appPrograms } from './programs';

export interface AppRuntimeApiDeps {
  runtime: AppRuntime;
  platform: PlatformState;
  records: Records;
  idempotency: IdempotencyStore;
}

/** The app-runtime routes: /api/v1 (platform token, via platform-api.ts's hook) and /lab/v1/app-runtime (lab token, via admin-api.ts's). */
export function registerAppRuntimeApi(app: FastifyInstance, deps: AppRuntimeApiDeps): void {
  const otherAllocation = (id: string) => {
    for (const node of deps.platform.listNodes()) {
      const a = deps.platform.allocations(node.node_id).find((x) => x.id === id);
      if (a) return { ...a, node_id: node.node_id, state: 'active', bound: true };
    }
    return undefined;
  };
  registerAppRuntimeRoutes(app, { runtime: deps.runtime, records: deps.records, idempotency: deps.idempotency, otherAllocation });
  registerAppRuntimeAdmin(app, deps.runtime);
}
