/**
 * `npm run bench:log-shipping`: what pushing the engine's log lines to Loki
 * (LOKI_PUSH_URL) costs the process that logs them. BENCH_LINES lines (default
 * 20,000: all of them fit in the lab's store, so every one is counted there) shaped like an activity's (`running command` with the step fields)
 * are written through the engine's logger twice, in the same run:
 *   - baseline: the logger as it is without LOKI_PUSH_URL (to /dev/null instead of stdout);
 *   - shipped: the same logger with the Loki shipper added (runtime/log-shipping.ts),
 *     pushing to the lab's real Loki push API, run as its own process (`lab/main.ts`).
 * Prints the time spent in the logging calls and the total until every line was
 * sent (close()), each as a ratio against the baseline, and how many of the
 * lines the lab's Loki holds afterwards. Figures only: nothing is asserted.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { correlationQueries } from '../../capabilities/triage/requests';
import { findFreePort } from '../../infra/free-port';
import { lokiLogShipper } from '../../runtime/log-shipping';
import { createLogger } from '../../runtime/logger';
import { machineLine, summarize, table } from './stats';

const ROOT = path.resolve(__dirname, '../..');
const LINES = Number(process.env.BENCH_LINES ?? 20_000);
const ROUNDS = 5;

interface Figures {
  loggingMs: number;
  totalMs: number;
}

/** The lab as its own process, so its parsing and storing is not charged to the logger. */
async function startLabProcess(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await findFreePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-bench-logs-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'lab/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, LAB_DATA_DIR: dataDir, LAB_PLATFORM_PORT: String(port), LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('loki / tempo')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the lab exited (${code}) before it was up`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every line of `correlationId` the lab holds, read forward in pages of Loki's per-query maximum. */
async function storedLines(url: string, correlationId: string): Promise<number> {
  const engineQuery = correlationQueries(correlationId).find((q) => q.name === 'engine')!.logql;
  let count = 0;
  let start = (BigInt(Date.now() - 600_000) * 1_000_000n).toString();
  const end = (BigInt(Date.now() + 1_000) * 1_000_000n).toString();
  for (;;) {
    const params = new URLSearchParams({
      query: engineQuery,
      start,
      end,
      limit: '5000',
      direction: 'forward',
    });
    const res = await fetch(`${url}/loki/api/v1/query_range?${params}`);
    const body = (await res.json()) as { data: { result: { values: [string, string][] }[] } };
    const stamps = body.data.result.flatMap((s) => s.values.map(([ts]) => BigInt(ts)));
    count += stamps.length;
    if (stamps.length < 5000) return count;
    // Lines of one millisecond share a timestamp: a page ending inside one would lose or repeat some, so page on a boundary.
    const last = stamps.reduce((a, b) => (a > b ? a : b));
    const atLast = stamps.filter((t) => t === last).length;
    count -= atLast;
    start = last.toString();
  }
}

async function writeLines(correlationId: string, pushUrl?: string): Promise<Figures> {
  const { logger, addDestination } = createLogger({ name: 'gpuaas-runbooks-worker', destination: pino.destination({ dest: '/dev/null', sync: true }) });
  const shipper = pushUrl ? lokiLogShipper({ pushUrl, service: 'gpuaas-runbooks-worker', batchIntervalMs: 1_000, maxBuffered: LINES }) : undefined;
  if (shipper) addDestination(shipper.stream);
  const step = logger.child({
    correlation_id: correlationId,
    workflow_id: `gpu-driver-upgrade/dev-gpu-1`,
    run_id: '01a242c3-3801-777b-a938-c03dca495bde',
    runbook: 'gpu-driver-upgrade',
    step: 'install_driver',
    node_id: 'dev-gpu-1',
    host_name: 'dev-gpu-1',
    host_role: 'worker_compute',
  });
  const t0 = performance.now();
  for (let i = 0; i < LINES; i++) step.info({ action: 'install_gpu_driver', argv: ['apt-get', 'install', '-y', `pkg-${i}`] }, 'running command');
  const loggingMs = performance.now() - t0;
  await shipper?.close();
  return { loggingMs, totalMs: performance.now() - t0 };
}

async function main(): Promise<void> {
  const lab = await startLabProcess();
  try {
    const rows: (string | number)[][] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const base = await writeLines(`bench-base-${round}`);
      const id = `bench-shipped-${round}`;
      const shipped = await writeLines(id, lab.url);
      // The lab keeps its newest 20,000 lines: a run of more is only partly counted.
      const stored = await storedLines(lab.url, id);
      rows.push([
        round,
        base.loggingMs.toFixed(0),
        shipped.loggingMs.toFixed(0),
        (shipped.loggingMs / base.loggingMs).toFixed(2),
        shipped.totalMs.toFixed(0),
        (shipped.totalMs / base.totalMs).toFixed(2),
        `${stored}/${LINES}`,
      ]);
    }
    process.stdout.write(`log shipping: ${LINES} lines per run, ${ROUNDS} rounds, baseline and shipped alternating\n`);
    process.stdout.write(`${table(['round', 'base log ms', 'shipped log ms', 'log ×', 'shipped total ms', 'total ×', 'lines in Loki'], rows)}\n`);
    const median = (col: number) => summarize(rows.map((r) => Number(r[col]))).p50;
    process.stdout.write(`median: logging calls ×${median(3)}, until all sent ×${median(5)} against the baseline\n`);
    process.stdout.write(`${machineLine()}\n`);
  } finally {
    await lab.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
