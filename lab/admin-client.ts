/** A client for the lab's fault-injection and record endpoints (/lab/v1), for tests, drills and scripts. */
export interface LabRecords {
  commands: { seq: number; node_id: string; host_name: string; command: string; exit_code: number | null; at: string }[];
  mutations: { seq: number; node_id: string; kind: string; idempotency_key?: string; applied: boolean; at: string }[];
}

export class LabAdmin {
  constructor(private readonly baseUrl: string) {}

  reset() {
    return this.post('/lab/v1/reset', {});
  }
  injectXid(nodeId: string, gpuIndex: number, xid: number, persistent = false) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/xid`, { gpu_index: gpuIndex, xid, persistent });
  }
  failDiag(nodeId: string, gpuIndex: number) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/diag-fail`, { gpu_index: gpuIndex });
  }
  stickDrain(nodeId: string) {
    return this.post(`/lab/v1/hosts/${nodeId}/faults/stuck-drain`, {});
  }
  async records(nodeId?: string): Promise<LabRecords> {
    const res = await fetch(`${this.baseUrl}/lab/v1/records${nodeId ? `?node_id=${nodeId}` : ''}`);
    if (!res.ok) throw new Error(`lab records: ${res.status} ${await res.text()}`);
    return (await res.json()) as LabRecords;
  }
  async hostState(nodeId: string): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/lab/v1/hosts/${nodeId}/state`);
    return (await res.json()) as Record<string, unknown>;
  }
  /** Mutations of one kind that really took effect (idempotent replays excluded). */
  async applied(nodeId: string, kind: string): Promise<number> {
    const r = await this.records(nodeId);
    return r.mutations.filter((m) => m.kind === kind && m.applied).length;
  }
  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`lab ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }
}

