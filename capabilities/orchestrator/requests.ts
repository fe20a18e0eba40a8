/**
 * Every call the engine makes to the orchestrator's HTTP API (seed 004's routes), as
 * method, path and body: the client sends exactly these and plan mode shows them.
 */
import type { PlatformRequest } from '../platform/requests';

const pool = (poolId: string) => `/pools/${encodeURIComponent(poolId)}`;

export const orchestratorRequests = {
  health: (): PlatformRequest => ({ method: 'GET', path: '/health', mutates: false }),
  leaderStatus: (): PlatformRequest => ({ method: 'GET', path: '/status/leader', mutates: false }),
  listPools: (): PlatformRequest => ({ method: 'GET', path: '/pools', mutates: false }),
  stopPool: (poolId: string): PlatformRequest => ({ method: 'POST', path: `${pool(poolId)}/stop`, mutates: true }),
  startPool: (poolId: string): PlatformRequest => ({ method: 'POST', path: `${pool(poolId)}/start`, mutates: true }),
  stopAllPools: (): PlatformRequest => ({ method: 'POST', path: '/pools/stop-all', mutates: true }),
  listLeases: (poolId?: string): PlatformRequest => ({
    method: 'GET',
    path: poolId === undefined ? '/leases' : `/leases?pool_id=${encodeURIComponent(poolId)}`,
    mutates: false,
  }),
  metrics: (): PlatformRequest => ({ method: 'GET', path: '/metrics', mutates: false }),
  setMaintenance: (mode: 'drain' | 'normal'): PlatformRequest => ({ method: 'POST', path: '/control/maintenance', body: { mode }, mutates: true }),
};
