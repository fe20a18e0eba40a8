/**
 * Every command issued against the orchestrator's Redis database, whoever
 * issued it (a replica, a pool worker, a runbook, redis-cli), taken from Redis's
 * own MONITOR feed on a connection of the lab's. Each entry names the client by
 * its CLIENT SETNAME when it has one, so a test can tell the runbook's commands
 * from the orchestrator's. MONITOR sees every database; only ours is kept.
 */
import { Redis } from 'ioredis';

const RECORDER = 'gpu-orchestrator-lab-recorder';

export interface RedisCommandRecord {
  seq: number;
  at: string;
  /** "127.0.0.1:53412" as MONITOR reports it. */
  client_addr: string;
  /** The client's name (CLIENT SETNAME), or null. */
  client_name: string | null;
  /** The command and its arguments, e.g. ["XGROUP", "SETID", "stream:…", "cg:inference", "0"]. */
  args: string[];
}

/** The database index of a redis:// URL (its path), 0 when none. */
export function redisDb(url: string): number {
  const path = new URL(url).pathname.replace(/^\//, '');
  return path === '' ? 0 : Number(path);
}

export class RedisCommandLog {
  private seq = 0;
  private records: RedisCommandRecord[] = [];
  private readonly names = new Map<string, string>();
  private readonly waiters = new Set<(args: string[]) => void>();
  private monitor: Redis | null = null;
  private readonly lookup: Redis;
  private readonly db: number;

  constructor(private readonly url: string) {
    this.db = redisDb(url);
    // Looks client names up (CLIENT LIST); named, so that its own commands are left out of the record.
    this.lookup = new Redis(url, { lazyConnect: true, connectionName: RECORDER, maxRetriesPerRequest: 1 });
  }

  async start(): Promise<void> {
    await this.lookup.connect();
    // monitor() opens a connection of its own; this one never connects.
    this.monitor = await new Redis(this.url, { lazyConnect: true }).monitor();
    this.monitor.on('monitor', (time: string, args: string[], addr: string, database: string) => {
      if (Number(database) !== this.db) return;
      for (const w of [...this.waiters]) w(args);
      const name = this.names.get(addr);
      if (name === RECORDER) return;
      const rec: RedisCommandRecord = { seq: ++this.seq, at: new Date(Number(time) * 1000).toISOString(), client_addr: addr, client_name: name ?? null, args };
      this.records.push(rec);
      if (name === undefined) void this.resolve(addr);
    });
  }

  /** Resolves when a command matching `match` arrives on the feed (rejects after timeoutMs). */
  waitFor(match: (args: string[]) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error('the Redis MONITOR feed did not deliver the command in time'));
      }, timeoutMs);
      const waiter = (args: string[]) => {
        if (!match(args)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve();
      };
      this.waiters.add(waiter);
    });
  }

  list(): RedisCommandRecord[] {
    return this.records.map((r) => ({ ...r, args: [...r.args] }));
  }

  clear(): void {
    this.seq = 0;
    this.records = [];
  }

  async stop(): Promise<void> {
    this.monitor?.disconnect();
    this.monitor = null;
    this.lookup.disconnect();
  }

  /** A client we have not seen: CLIENT LIST tells its name; every record from it gets it. */
  private async resolve(addr: string): Promise<void> {
    try {
      const list = String(await this.lookup.call('CLIENT', 'LIST'));
      for (const line of list.split('\n')) {
        const a = /(?:^| )addr=(\S+)/.exec(line)?.[1];
        const n = /(?:^| )name=(\S*)/.exec(line)?.[1];
        if (a && n) this.names.set(a, n);
      }
    } catch {
      return;
    }
    const name = this.names.get(addr);
    if (name === undefined) return;
    if (name === RECORDER) this.records = this.records.filter((r) => r.client_addr !== addr);
    for (const r of this.records) if (r.client_addr === addr && r.client_name === null) r.client_name = name;
  }
}
