/**
 * The engine's PostgreSQL goes away in the middle of a run and comes back
 * minutes later: the run waits at its next record and then completes. This
 * test owns its own PostgreSQL (embedded, in a scratch directory) so it can stop
 * and restart it without disturbing the other suites.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS_DIR, openDatabase, runMigrations, type Database } from '../../infra/database';
import { statusQuery } from '../../domain/messages';
import type { RunReport } from '../../domain/runbook';
import { findFreePort } from '../../infra/free-port';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../support/harness';
import { testEnv } from '../support/test-env';
import { startGpuFault } from '../../runbooks/gpu-fault-remediation/test/scenarios';

const NODE = 'dev-gpu-4';
/** The figure: five minutes down. PG_OUTAGE_MS shortens it for a local run. */
const OUTAGE_MS = Number(process.env.PG_OUTAGE_MS ?? 5 * 60_000);

let stack: Stack;
let dataDir: string;
let db: Database | undefined;

beforeAll(async () => {
  stack = await connectStack();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-pg-outage-'));
  // Embedded PostgreSQL runs as the postgres user when the tests run as root: let it in.
  fs.chmodSync(dataDir, 0o755);
});
afterAll(async () => {
  await db?.stop();
  await stack?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test(
  `PostgreSQL down for ${OUTAGE_MS / 1000} s in the middle of a run → the run waits, then completes`,
  async () => {
    await stack.lab.reset();
    const port = await findFreePort();
    db = await openDatabase({ dataDir, port });
    await runMigrations(db.pool, MIGRATIONS_DIR);
    // The worker's own pool to that server; it reconnects once the server is back.
    const pool = new pg.Pool({ connectionString: db.url, max: 5 });
    pool.on('error', () => undefined);
    await stack.lab.injectXid(NODE, 4, 48);
    await stack.lab.stickDrain(NODE);
    const taskQueue = uniqueTaskQueue('pg-outage');
    const worker = await stack.worker(taskQueue, { pool });
    try {
      const report: RunReport = await worker.runUntil(async () => {
        const handle = await startGpuFault(stack, taskQueue, { node_id: NODE, drain_timeout: '30m', poll_interval: '500ms' });
        await eventually(async () => ((await handle.query(statusQuery)).current_step === 'wait_for_drain' ? true : undefined), 'the drain wait');

        await db!.stop();
        const downSince = Date.now();
        // The tenants' jobs end while the database is down; every step after the
        // drain now needs a record the engine cannot write.
        const evicted = await fetch(`${testEnv('platformUrl')}/api/v1/nodes/${NODE}/allocations/evict`, {
          method: 'POST',
          headers: { authorization: `Bearer ${testEnv('platformToken')}`, 'content-type': 'application/json', 'idempotency-key': `pg-outage-${Date.now()}` },
          body: JSON.stringify({ reason: 'jobs finished' }),
        });
        expect(evicted.status).toBe(200);
        await new Promise((r) => setTimeout(r, OUTAGE_MS));
        // Still open, and still waiting to write what happened: nothing was lost or skipped.
        const during = await handle.describe();
        expect(during.status.name).toBe('RUNNING');
        expect(await stack.lab.applied(NODE, 'uncordon')).toBe(0);

        db = await openDatabase({ dataDir, port });
        expect(new URL(db.url).port).toBe(String(port));
        const result: RunReport = await handle.result();
        expect(Date.now() - downSince).toBeGreaterThanOrEqual(OUTAGE_MS);
        return result;
      });
      expect(report.outcome).toBe('returned_to_service');
      expect(await stack.lab.applied(NODE, 'cordon')).toBe(1);
      expect(await stack.lab.applied(NODE, 'reset_gpu')).toBe(1);
      expect(await stack.lab.applied(NODE, 'uncordon')).toBe(1);
      const row = await pool.query(`SELECT status, outcome FROM runbook_runs WHERE node_id = $1`, [NODE]);
      expect(row.rows).toEqual([{ status: 'completed', outcome: 'returned_to_service' }]);
    } finally {
      await pool.end();
    }
    // The outage itself, plus the run before and after it.
  },
  OUTAGE_MS + 3 * 60_000,
);
