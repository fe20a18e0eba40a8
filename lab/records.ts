/** Everything the engine did to the lab: every SSH exec and every mutation. */
export type MutationKind = 'cordon' | 'uncordon' | 'evict' | 'rma_ticket' | 'reset_gpu' | 'reboot' | 'persistence_mode';

export interface CommandRecord {
  seq: number;
  node_id: string;
  host_name: string;
  command: string;
  exit_code: number;
  at: string;
}

export interface MutationRecord {
  seq: number;
  node_id: string;
  kind: MutationKind;
  idempotency_key?: string;
  /** False for replayed idempotent requests and for refused SSH mutations. */
  applied: boolean;
  at: string;
  /** Extra facts (GPU uuids, reasons, ticket id). */
  detail?: Record<string, unknown>;
}

export class Records {
  private seq = 0;
  private commands: CommandRecord[] = [];
  private mutations: MutationRecord[] = [];

  command(r: Omit<CommandRecord, 'seq' | 'at'>, at = new Date()): CommandRecord {
    const rec = { seq: ++this.seq, ...r, at: at.toISOString() };
    this.commands.push(rec);
    return rec;
  }

  mutation(r: Omit<MutationRecord, 'seq' | 'at'>, at = new Date()): MutationRecord {
    const rec: MutationRecord = { seq: ++this.seq, ...r, at: at.toISOString() };
    if (rec.idempotency_key === undefined) delete rec.idempotency_key;
    if (rec.detail === undefined) delete rec.detail;
    this.mutations.push(rec);
    return rec;
  }

  list(nodeId?: string): { commands: CommandRecord[]; mutations: MutationRecord[] } {
    const keep = <T extends { node_id: string }>(xs: T[]) => (nodeId ? xs.filter((x) => x.node_id === nodeId) : [...xs]);
    return { commands: keep(this.commands), mutations: keep(this.mutations) };
  }

  clear(): void {
    this.seq = 0;
    this.commands = [];
    this.mutations = [];
  }
}
