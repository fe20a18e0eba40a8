/**
 * Every call the engine makes to the GPU platform API, as method, path and body.
 * Pure data: the client sends exactly these, and plan mode shows exactly these,
 * so a plan cannot describe a request the run would not make.
 */
export interface PlatformRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
  /** True when the request changes something (and so carries an Idempotency-Key). */
  mutates: boolean;
}

const node = (nodeId: string) => `/api/v1/nodes/${encodeURIComponent(nodeId)}`;

export const platformRequests = {
  listNodes: (): PlatformRequest => ({ method: 'GET', path: '/api/v1/nodes', mutates: false }),
  getNode: (nodeId: string): PlatformRequest => ({ method: 'GET', path: node(nodeId), mutates: false }),
  cordon: (nodeId: string, reason: string): PlatformRequest => ({ method: 'POST', path: `${node(nodeId)}/cordon`, body: { reason }, mutates: true }),
  uncordon: (nodeId: string, reason: string): PlatformRequest => ({ method: 'POST', path: `${node(nodeId)}/uncordon`, body: { reason }, mutates: true }),
  listAllocations: (nodeId: string): PlatformRequest => ({ method: 'GET', path: `${node(nodeId)}/allocations`, mutates: false }),
  evictAllocations: (nodeId: string, reason: string): PlatformRequest => ({
    method: 'POST',
    path: `${node(nodeId)}/allocations/evict`,
    body: { reason },
    mutates: true,
  }),
  listOpenRmaTickets: (nodeId: string): PlatformRequest => ({
    method: 'GET',
    path: `/api/v1/rma-tickets?node_id=${encodeURIComponent(nodeId)}&status=open`,
    mutates: false,
  }),
  openRmaTicket: (body: unknown): PlatformRequest => ({ method: 'POST', path: '/api/v1/rma-tickets', body, mutates: true }),
};
