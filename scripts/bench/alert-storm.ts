/**
 * `npm run bench:storm`: an alert storm against the real stack (Temporal dev server,
 * PostgreSQL, the lab with 100 GPU nodes), with the worker and the API in this process
 * as `npm start` runs them. 1,000 alerts over 100 nodes, 50 in flight, over loopback.
 *
 * Prints: runs started (the target is exactly one per node), answers by status and by
 * what became of the alert, API latency percentiles, the history length of the busiest
 * run, and two baselines in the same process, as ratios: the same number of requests at the
 * same concurrency to the same route with a node the inventory lacks (HTTP, JSON, validation
 * and the inventory check; no database, no Temporal), and as many bare client.workflow.start
 * calls (what one Temporal call per alert costs on this machine). Figures only, no
 * assertions on time. Results also go to .data/bench-storm.json.
 *
 * STORM_ALERTS, STORM_NODES and STORM_CONCURRENCY change the shape (defaults 1000/100/50);
 * STORM_WORKER=0 runs the storm with no worker polling (the API's own cost only).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Worker as Thread } from 'node:worker_threads';
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { buildApi } from '../../api/server';
import { TokenFile } from '../../api/auth/token-file';
import { connectTemporal, installTemporalRuntime } from '../../runtime/bootstrap';
import { installTracing } from '../../runtime/tracing';
import type { Stack } from '../stack';
import { runBench } from './bench-stack';
import { labWorker } from './lab-worker';

const ROOT = path.resolve(__dirname, '../..');
const RESULTS_FILE = path.join(ROOT, '.data', 'bench-storm.json');
const ALERTS = Number(process.env.STORM_ALERTS ?? 1000);
const NODES = Number(process.env.STORM_NODES ?? 100);
const CONCURRENCY = Number(process.env.STORM_CONCURRENCY ?? 50);
/** Requests to each route before measuring, so both measure warmed-up code. */
const WARMUP_REQUESTS = 100;
const TASK_QUEUE = `bench-storm-${process.pid}`;
/** The lab's waits (diag, reboot) scaled down: the bench measures the API, not the hosts. */
const LAB_TIME_SCALE = 0.002;
const RUNBOOK_URL = '/api/v1/runbooks/gpu-fault-remediation/runs';
/** Short waits, as the other benchmark uses. */
const DURATIONS = { drain_timeout: '5s', approval_timeout: '30s', reboot_timeout: '20s', poll_interval: '100ms', diag_level: 2 } as const;

// The worker's activity retries are not what this measures; errors still show.
const logger = pino({ level: process.env.LOG_LEVEL ?? 'error' });
const say = (line: string) => console.log(`[bench:storm] ${line}`);
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

interface Answer {
  ms: number;
  status: number;
  /** The alert outcome, or the error code. */
  what: string;
  workflowId?: string;
  runId?: string;
}

interface Latency {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** The operator token the load generator sends. */
let bearer = '';

async function run(stack: Stack): Promise<void> {
  const lab = stack.lab!;
  installTemporalRuntime(logger);
  const tracing = installTracing({ serviceName: 'gpuaas-runbooks-bench-storm' });
  const temporal = await connectTemporal(stack.temporalAddress, 'default');
  try {
    // As `npm start` wires it: the API shares the worker's pool and Temporal client.
    // Authenticated as every caller is: an operator token, checked on each request.
    const tokens = new TokenFile(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-storm-')), 'api-tokens.json'));
    bearer = tokens.create('bench-operator', ['operator']).token;
    const api = buildApi({
      client: temporal.client,
      pool: stack.db.pool,
      taskQueue: TASK_QUEUE,
      logger,
      inventory: lab.inventory,
      alertCooldownMs: 60_000,
      auth: { tokens },
    });
    await api.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
    try {
      // STORM_WORKER=0 runs no worker, to tell the API's own cost from that of running 100 workflows beside it.
      if (process.env.STORM_WORKER === '0') {
        await measure(stack, temporal.client, base);
        return;
      }
      say('bundling workflows');
      // Node leases only: this bench measures the API, not the fleet budget.
      const worker = await labWorker(stack, temporal, { taskQueue: TASK_QUEUE, tracing, logger, budgets: {} });
      await worker.runUntil(() => measure(stack, temporal.client, base));
    } finally {
      await api.close();
    }
  } finally {
    await tracing.shutdown();
    await temporal.close();
  }
}

/** The storm: alert i goes to a node chosen so that each node gets ALERTS/NODES alerts, in a shuffled order. */
function stormPlan(): { node: string; body: Record<string, unknown> }[] {
  const plan = Array.from({ length: ALERTS }, (_, i) => {
    const n = i % NODES;
    const node = `dev-gpu-${n + 1}`;
    // One fault per node, reported by several monitoring systems.
    return { node, body: { ...DURATIONS, node_id: node, xid: 48, gpu_index: n % 8, source: `monitor-${i % 5}` } };
  });
  // Deterministic shuffle (xorshift32), so repeats of one node arrive interleaved and sometimes together.
  let seed = 0x9e3779b9;
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  for (let i = plan.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [plan[i], plan[j]] = [plan[j]!, plan[i]!];
  }
  return plan;
}

/**
 * The load generator, in its own thread: alerts come from outside the engine, so the
 * client's own work (building requests, parsing answers) must not queue behind the API
 * and the worker on their event loop, nor be counted as their latency.
 */
const LOAD_GENERATOR = `
const { parentPort, workerData } = require('node:worker_threads');
const { performance } = require('node:perf_hooks');
(async () => {
  const { base, url, bodies, concurrency, bearer } = workerData;
  const answers = new Array(bodies.length);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const start = performance.now();
      try {
        const res = await fetch(base + url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer ' + bearer }, body: JSON.stringify(bodies[i]) });
        const body = await res.json();
        answers[i] = { ms: performance.now() - start, status: res.status, what: body.alert ?? (body.error && body.error.code) ?? 'unknown', workflowId: body.workflow_id, runId: body.run_id };
      } catch (err) {
        answers[i] = { ms: performance.now() - start, status: 0, what: 'transport: ' + err.message };
      }
    }
  }));
  parentPort.postMessage({ answers, wallMs: performance.now() - t0 });
})();
`;

/** `bodies.length` POSTs to `url`, `CONCURRENCY` in flight, from the load generator thread; each answer with its latency. */
function fire(base: string, url: string, bodies: Record<string, unknown>[]): Promise<{ answers: Answer[]; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const generator = new Thread(LOAD_GENERATOR, { eval: true, workerData: { base, url, bodies, concurrency: CONCURRENCY, bearer } });
    generator.once('message', resolve);
    generator.once('error', reject);
    generator.once('exit', (code) => {
      if (code !== 0) reject(new Error(`load generator exited with ${code}`));
    });
  });
}

async function measure(stack: Stack, client: Client, base: string): Promise<void> {
  const absent = { ...DURATIONS, node_id: 'bench-absent-node', xid: 48, gpu_index: 0, source: 'bench' };
  say(`baseline: ${ALERTS} requests, ${CONCURRENCY} in flight, to the same route with a node not in the inventory (404, no I/O)`);
  await fire(
    base,
    RUNBOOK_URL,
    Array.from({ length: WARMUP_REQUESTS }, () => absent),
  );
  const baseline = await fire(
    base,
    RUNBOOK_URL,
    Array.from({ length: ALERTS }, () => absent),
  );
  const unexpected = baseline.answers.filter((a) => a.status !== 404);
  if (unexpected.length > 0) throw new Error(`baseline: ${unexpected.length} answers other than 404, e.g. ${JSON.stringify(unexpected[0])}`);

  const loadBefore = loadavg();
  say(`storm: ${ALERTS} alerts over ${NODES} nodes, ${CONCURRENCY} in flight`);
  const plan = stormPlan();
  const storm = await fire(
    base,
    RUNBOOK_URL,
    plan.map((p) => p.body),
  );
  const loadAfter = loadavg();
  // The storm goes on after every node has its run: the same alerts again, now all repeats
  // (coalesced into open runs, or cooldown for runs that closed). No Temporal call is left.
  say(`second wave: the same ${ALERTS} alerts again`);
  const wave = await fire(
    base,
    RUNBOOK_URL,
    plan.map((p) => p.body),
  );

  const byStatus = countBy(storm.answers, (a) => String(a.status));
  const byOutcome = countBy(storm.answers, (a) => a.what);
  const startedRuns = new Set(storm.answers.filter((a) => a.status === 201).map((a) => a.runId));
  const runs = new Map<string, string>(); // run id → workflow id
  for (const a of storm.answers) if (a.runId && a.workflowId) runs.set(a.runId, a.workflowId);
  const nodesWithRun = new Set(plan.filter((_, i) => storm.answers[i]!.status === 201).map((p) => p.node));

  // The busiest run: the longest history among every run an answer named.
  say(`reading the history length of ${runs.size} run(s)`);
  let busiest = { workflow_id: '', run_id: '', history_length: 0 };
  for (const [runId, workflowId] of runs) {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    if (d.historyLength > busiest.history_length) busiest = { workflow_id: workflowId, run_id: runId, history_length: d.historyLength };
  }
  // Second baseline: what one Temporal call per alert costs here, the same number of bare
  // starts at the same concurrency (unique ids, a task queue no worker polls).
  say(`bare starts: ${ALERTS} client.workflow.start calls, ${CONCURRENCY} in flight`);
  const bare = await bareStarts(client);
  const bareErrors = bare.filter((a) => a.status !== 201).length;

  const ledger = await stack.db.pool.query<{ received: number; delivered: number; coalesced: number; over_cap: number; cooldown: number }>(
    `SELECT coalesce(sum(received), 0)::int AS received, (count(*) FILTER (WHERE delivery = 'delivered'))::int AS delivered,
            coalesce(sum(coalesced), 0)::int AS coalesced, coalesce(sum(over_cap), 0)::int AS over_cap, coalesce(sum(cooldown), 0)::int AS cooldown
     FROM alert_ledger`,
  );

  const stormLatency = latency(storm.answers.map((a) => a.ms));
  const byOutcomeLatency = Object.fromEntries(Object.keys(byOutcome).map((k) => [k, latency(storm.answers.filter((a) => a.what === k).map((a) => a.ms))]));
  const baselineLatency = latency(baseline.answers.map((a) => a.ms));
  const bareLatency = latency(bare.map((a) => a.ms));
  const waveLatency = latency(wave.answers.map((a) => a.ms));
  const waveByOutcome = countBy(wave.answers, (a) => a.what);
  const ratio = (k: 'p50' | 'p95' | 'p99', over: Latency) => Math.round((stormLatency[k] / over[k]) * 100) / 100;
  const results = {
    started_at: new Date().toISOString(),
    shape: { alerts: ALERTS, nodes: NODES, concurrency: CONCURRENCY, lab_time_scale: LAB_TIME_SCALE },
    runs_started: startedRuns.size,
    nodes_with_a_started_run: nodesWithRun.size,
    runs_named_in_answers: runs.size,
    answers_by_status: byStatus,
    answers_by_outcome: byOutcome,
    errors: storm.answers.filter((a) => a.status !== 200 && a.status !== 201).length,
    latency_ms: { storm: stormLatency, second_wave: waveLatency, baseline: baselineLatency, bare_starts: bareLatency, storm_by_outcome: byOutcomeLatency },
    second_wave_by_outcome: waveByOutcome,
    second_wave_errors: wave.answers.filter((a) => a.status !== 200).length,
    storm_over_baseline: { p50: ratio('p50', baselineLatency), p95: ratio('p95', baselineLatency), p99: ratio('p99', baselineLatency) },
    storm_over_bare_starts: { p50: ratio('p50', bareLatency), p95: ratio('p95', bareLatency), p99: ratio('p99', bareLatency) },
    bare_start_errors: bareErrors,
    throughput_per_s: {
      storm: Math.round(ALERTS / (storm.wallMs / 1000)),
      second_wave: Math.round(ALERTS / (wave.wallMs / 1000)),
      baseline: Math.round(ALERTS / (baseline.wallMs / 1000)),
    },
    busiest_run: busiest,
    ledger_totals: ledger.rows[0],
    machine: {
      node: process.version,
      cpus: os.cpus().length,
      cpu_model: os.cpus()[0]?.model ?? 'unknown',
      loadavg_before_storm: loadBefore,
      loadavg_after_storm: loadAfter,
      database: process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded PostgreSQL',
    },
  };

  const row = (name: string, l: Latency) => `${name.padEnd(10)} ${[l.n, l.p50, l.p95, l.p99, l.max, l.mean].map((x) => String(x).padStart(8)).join('')}`;
  console.log(`\nalert storm: ${ALERTS} alerts over ${NODES} nodes, ${CONCURRENCY} in flight\n`);
  console.log(`runs started          ${results.runs_started} (target ${NODES}; ${results.nodes_with_a_started_run} nodes got one)`);
  console.log(`answers by status     ${fmt(byStatus)}`);
  console.log(`answers by outcome    ${fmt(byOutcome)}`);
  console.log(`errors                ${results.errors}`);
  console.log(`busiest run           ${busiest.workflow_id} ${busiest.run_id}: history length ${busiest.history_length}`);
  console.log(`ledger totals         ${fmt(ledger.rows[0]!)}`);
  console.log(`\nAPI latency, ms         n     p50     p95     p99     max    mean`);
  console.log(row('storm', stormLatency));
  console.log(row('baseline', baselineLatency));
  console.log(row('2nd wave', waveLatency));
  console.log(row('bare start', bareLatency));
  for (const [k, l] of Object.entries(byOutcomeLatency)) console.log(row(`  ${k}`.slice(0, 10), l));
  console.log(
    `\nstorm / baseline (same route, no I/O):  p50 x${results.storm_over_baseline.p50}, p95 x${results.storm_over_baseline.p95}, p99 x${results.storm_over_baseline.p99}`,
  );
  console.log(
    `storm / bare starts (1 Temporal call each): p50 x${results.storm_over_bare_starts.p50}, p95 x${results.storm_over_bare_starts.p95}, p99 x${results.storm_over_bare_starts.p99}${bareErrors ? ` (${bareErrors} bare starts failed)` : ''}`,
  );
  console.log(
    `second wave / baseline: p50 x${Math.round((waveLatency.p50 / baselineLatency.p50) * 100) / 100}, p99 x${Math.round((waveLatency.p99 / baselineLatency.p99) * 100) / 100}; its answers: ${fmt(waveByOutcome)}`,
  );
  console.log(
    `throughput: storm ${results.throughput_per_s.storm}/s, second wave ${results.throughput_per_s.second_wave}/s, baseline ${results.throughput_per_s.baseline}/s`,
  );
  console.log(
    `machine: node ${results.machine.node}, ${results.machine.cpus} CPU(s), ${results.machine.cpu_model}, load avg ${loadBefore.join(' ')} before, ${loadAfter.join(' ')} after the storm`,
  );

  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`results written to ${RESULTS_FILE}`);
}

async function bareStarts(client: Client): Promise<Answer[]> {
  const answers: Answer[] = new Array(ALERTS);
  const queue = `bench-storm-bare-${process.pid}`;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < ALERTS; i = next++) {
        const t0 = performance.now();
        try {
          await client.workflow.start('gpuFaultRemediation', {
            taskQueue: queue,
            workflowId: `bench-bare/${process.pid}/${i}`,
            args: [{ ...DURATIONS, node_id: `dev-gpu-${(i % NODES) + 1}`, xid: 48, source: 'bench-bare' }],
          });
          answers[i] = { ms: performance.now() - t0, status: 201, what: 'started' };
        } catch (err) {
          answers[i] = { ms: performance.now() - t0, status: 0, what: (err as Error).message };
        }
      }
    }),
  );
  return answers;
}

function countBy<T>(items: T[], key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

function fmt(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
}

/** Nearest-rank percentiles, rounded to 0.1 ms. */
function latency(samples: number[]): Latency {
  const s = [...samples].sort((a, b) => a - b);
  const at = (p: number) => s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(at(50)), p95: r(at(95)), p99: r(at(99)), max: r(s[s.length - 1]!), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

for (const [name, v] of [
  ['STORM_ALERTS', ALERTS],
  ['STORM_NODES', NODES],
  ['STORM_CONCURRENCY', CONCURRENCY],
] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

runBench('bench:storm', `${NODES} GPU nodes in the lab`, { extraGpuNodes: NODES - 1, drainDelayMs: 0, timeScale: LAB_TIME_SCALE }, run);
