/** Everything the engine did to the lab: every SSH exec, every process it started, every mutation. */
import type { AppHttpMutationKind, AppSshMutationKind } from './app-runtime/mutation-kinds';
import type { OrchestratorHttpMutationKind, OrchestratorSshMutationKind } from './orchestrator/mutation-kinds';

export type MutationKind =
  | 'cordon'
  | 'uncordon'
  | 'evict'
  | 'rma_ticket'
  | 'reset_gpu'
  | 'reboot'
  | 'persistence_mode'
  | 'driver_install'
  | AppSshMutationKind
  | AppHttpMutationKind
  | OrchestratorSshMutationKind
  | OrchestratorHttpMutationKind;

export interface CommandRecord {
  seq: number;
  node_id: string;
  host_name: string;
  /** The exec'd command line as received. */
  command: string;
  /** Set when the command's process exits; null while it runs or when it was killed. */
  exit_code: number | null;
  /** When the command started. */
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

/** One process on a simulated host: an exec'd program, or the main process of a transient unit. */
export interface ProcessRecord {
  seq: number;
  node_id: string;
  pid: number;
  /** The real program's argv joined by spaces, e.g. "dcgmi diag -r 3 -j". */
  command: string;
  /** The transient unit it runs in ("NAME.service"), or null for a plain exec. */
  unit: string | null;
  started_at: string;
  ended_at: string | null;
  exit_code: number | null;
  /** Ended by a reboot, `systemctl stop` or a lab reset before it finished: no effects applied. */
  killed: boolean;
}

export interface RecordsList {
  commands: CommandRecord[];
  mutations: MutationRecord[];
  processes: ProcessRecord[];
}

export class Records {
  private seq = 0;
  private commands: CommandRecord[] = [];
  private mutations: MutationRecord[] = [];
  private processes: ProcessRecord[] = [];

  /** Recorded when the command starts; the caller fills in exit_code when it ends. */
  command(r: Omit<CommandRecord, 'seq' | 'at' | 'exit_code'>, at = new Date()): CommandRecord {
    const rec: CommandRecord = { seq: ++this.seq, ...r, exit_code: null, at: at.toISOString() };
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

  /** Recorded when the process starts; the caller fills in how it ended. */
  process(r: Pick<ProcessRecord, 'node_id' | 'pid' | 'command' | 'unit'>, at = new Date()): ProcessRecord {
    const rec: ProcessRecord = { seq: ++this.seq, ...r, started_at: at.toISOString(), ended_at: null, exit_code: null, killed: false };
    this.processes.push(rec);
    return rec;
  }

  list(nodeId?: string): RecordsList {
    const keep = <T extends { node_id: string }>(xs: T[]) => (nodeId ? xs.filter((x) => x.node_id === nodeId) : [...xs]).map((x) => ({ ...x }));
    return { commands: keep(this.commands), mutations: keep(this.mutations), processes: keep(this.processes) };
  }

  clear(): void {
    this.seq = 0;
    this.commands = [];
    this.mutations = [];
    this.processes = [];
  }
}
