import { createHash } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { canonicalJson } from '../../domain/canonical-json';
import { pgSafeJson } from '../../domain/pg-safe-json';

/** One change made through the API, as the audit trail keeps it. */
export interface AuditEntry {
  principal: string;
  via: 'token' | 'oidc';
  token_id: string | null;
  /** `POST /api/v1/runs/:workflowId/approvals`: the route, so entries group by what was done. */
  action: string;
  /** What it acted on: the route's parameters, e.g. the workflow id. */
  target: string | null;
  status: number;
  correlation_id: string;
  detail: Record<string, unknown>;
}

export interface AuditRow extends AuditEntry {
  seq: number;
  at: string;
  prev_hash: string;
  hash: string;
}

export interface ChainCheck {
  ok: boolean;
  rows: number;
  /** The first row whose hash or link does not hold, and why. */
  broken?: { seq: number; problem: string };
}

const GENESIS = '0'.repeat(64);
/** Entries written in one transaction at most (12 parameters each, well under PostgreSQL's 65,535). */
const MAX_BATCH = 500;

interface Waiting {
  entry: AuditEntry;
  resolve: (row: AuditRow) => void;
  reject: (err: unknown) => void;
}
/** Serializes appends across API processes, so each row links to the one before it. */
const APPEND_LOCK = 0x61756469; // "audi"

/** What a row's hash covers: every field but the hash itself, after the previous row's hash. */
function rowHash(prevHash: string, row: Omit<AuditRow, 'hash' | 'prev_hash'>): string {
  return createHash('sha256').update(prevHash).update(canonicalJson(row)).digest('hex');
}

/**
 * The append-only audit trail in PostgreSQL (migration 007): rows hash-chained
 * in order, changes refused by a trigger, and a check that recomputes the chain.
 */
export class AuditTrail {
  private readonly queue: Waiting[] = [];
  private writing = false;

  constructor(private readonly pool: Pool) {}

  /**
   * Appends the entry and resolves once it is committed. Entries that arrive while a
   * write is in flight go out together in the next one: one lock and one round of
   * statements per batch instead of per request, so a burst of requests (an alert
   * storm) does not queue behind the lock one by one.
   */
  append(entry: AuditEntry): Promise<AuditRow> {
    // What is hashed is what is stored: text PostgreSQL cannot hold (a NUL, half a surrogate pair) made visible first.
    const storable = JSON.parse(pgSafeJson(entry)) as AuditEntry;
    return new Promise((resolve, reject) => {
      this.queue.push({ entry: storable, resolve, reject });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, MAX_BATCH);
        try {
          const rows = await this.write(batch.map((w) => w.entry));
          batch.forEach((w, i) => w.resolve(rows[i]!));
        } catch (err) {
          if (batch.length === 1) batch[0]!.reject(err);
          // One entry the database refuses must not take the others with it: one at a time.
          else for (const w of batch) await this.write([w.entry]).then(([row]) => w.resolve(row!), w.reject);
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private async write(entries: AuditEntry[]): Promise<AuditRow[]> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [APPEND_LOCK]);
      const last = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      let prevHash = last.rows[0]?.hash ?? GENESIS;
      let seq = Number(last.rows[0]?.seq ?? 0);
      const rows = entries.map((entry) => {
        const body = { ...entry, seq: ++seq, at: new Date().toISOString() };
        const row: AuditRow = { ...body, prev_hash: prevHash, hash: rowHash(prevHash, body) };
        prevHash = row.hash;
        return row;
      });
      await insert(client, rows);
      await client.query('COMMIT');
      return rows;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async list(filter: { principal?: string; action?: string; afterSeq?: number; limit: number }): Promise<AuditRow[]> {
    const res = await this.pool.query(
      `SELECT * FROM audit_log
       WHERE ($1::text IS NULL OR principal = $1) AND ($2::text IS NULL OR action = $2) AND seq > $3
       ORDER BY seq LIMIT $4`,
      [filter.principal ?? null, filter.action ?? null, filter.afterSeq ?? 0, filter.limit],
    );
    return res.rows.map(fromDb);
  }

  /** Recomputes every hash and link from the first row; the first break is reported. */
  async verify(): Promise<ChainCheck> {
    let prevHash = GENESIS;
    let expectedSeq = 1;
    let rows = 0;
    for (let after = 0; ;) {
      const page = await this.list({ afterSeq: after, limit: 1000 });
      if (page.length === 0) return { ok: true, rows };
      for (const row of page) {
        rows += 1;
        const { hash, prev_hash, ...body } = row;
        if (row.seq !== expectedSeq) return { ok: false, rows, broken: { seq: row.seq, problem: `row ${expectedSeq} is missing (deleted?)` } };
        if (prev_hash !== prevHash) return { ok: false, rows, broken: { seq: row.seq, problem: 'does not link to the row before it' } };
        if (rowHash(prev_hash, body) !== hash) return { ok: false, rows, broken: { seq: row.seq, problem: 'its content does not match its hash (edited?)' } };
        prevHash = hash;
        expectedSeq += 1;
      }
      after = page[page.length - 1]!.seq;
    }
  }
}

const COLUMNS = ['seq', 'at', 'principal', 'via', 'token_id', 'action', 'target', 'status', 'correlation_id', 'detail', 'prev_hash', 'hash'] as const;

function insert(client: PoolClient, rows: AuditRow[]) {
  const values = rows.map((_, r) => `(${COLUMNS.map((_c, c) => `$${r * COLUMNS.length + c + 1}`).join(', ')})`);
  const params = rows.flatMap((row) => COLUMNS.map((c) => (c === 'detail' ? JSON.stringify(row.detail) : row[c])));
  return client.query(`INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES ${values.join(', ')}`, params);
}

function fromDb(r: Record<string, unknown>): AuditRow {
  return {
    seq: Number(r.seq),
    at: (r.at as Date).toISOString(),
    principal: r.principal as string,
    via: r.via as AuditRow['via'],
    token_id: (r.token_id as string | null) ?? null,
    action: r.action as string,
    target: (r.target as string | null) ?? null,
    status: r.status as number,
    correlation_id: r.correlation_id as string,
    detail: r.detail as Record<string, unknown>,
    prev_hash: r.prev_hash as string,
    hash: r.hash as string,
  };
}
