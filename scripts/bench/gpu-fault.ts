/**
 * `npm run bench`: latency of gpu-fault-remediation on the real stack (Temporal dev
 * server, PostgreSQL, lab over SSH/HTTP), one worker in this process.
 *   (a) trigger → node cordoned, for a transient Xid 48 (cordon time from the lab's records)
 *   (b) a whole no-fault run, start → result
 *   (c) the same activity chain as a bare workflow (bare-workflows.ts), for the framework overhead
 * BENCH_RUNS runs each (default 20) after 2 warm-up runs. Figures are printed and written to
 * .data/bench-results.json; nothing is asserted about time, only each run's outcome.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@temporalio/client';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import pino from 'pino';
import { gpuFaultWorkflowId, type GpuFaultRequest } from '../../runbooks/gpu-fault-remediation/input';
import type { RunReport } from '../../domain/runbook';
import { LabAdmin } from '../../lab/admin-client';
import { connectTemporal, installTemporalRuntime } from '../../runtime/bootstrap';
import { composeActivities } from '../../workers/compose';
import { temporalLogger } from '../../runtime/logger';
import { installTracing } from '../../runtime/tracing';
import { bundleWorkflows, createRunbookWorker } from '../../workers/worker';
import type { Stack } from '../stack';
import { runBench } from './bench-stack';
import type { bareGpuPrecheck } from './bare-workflows';
import { summarize, table, type Summary } from './stats';

const ROOT = path.resolve(__dirname, '../..');
const RESULTS_FILE = path.join(ROOT, '.data', 'bench-results.json');
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const WARMUP = 2;
const XID_GPU = 3;
const TASK_QUEUE = `bench-${process.pid}`;
const BARE_TASK_QUEUE = `bench-bare-${process.pid}`;
/** Short waits; the lab drains at once, so these only bound polling. */
const DURATIONS = { drain_timeout: '5s', approval_timeout: '30s', reboot_timeout: '20s', poll_interval: '100ms', diag_level: 2 } as const;

const logger = pino({ level: 'warn' });
const say = (line: string) => console.log(`[bench] ${line}`);
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
const loadAtStart = loadavg();

interface Samples {
  cordon: number[];
  xidRun: number[];
  framework: number[];
  bare: number[];
}

/** Each cordon run needs a node never faulted before (a GPU reset leaves the Xid in the kernel log), so one node per run. */
const nodeIds = () => Array.from({ length: WARMUP + RUNS }, (_, i) => `dev-gpu-${i + 2}`);

async function measure(stack: Stack): Promise<Samples> {
  const lab = stack.lab!;
  installTemporalRuntime(logger);
  const tracing = installTracing({ serviceName: 'gpuaas-runbooks-bench' });
  const temporal = await connectTemporal(stack.temporalAddress, 'default');
  const { client, nativeConnection } = temporal;
  try {
    // The baseline's client carries no tracing interceptor, like its worker.
    const bareClient = new Client({ connection: temporal.connection });
    const activities = composeActivities({
      inventory: lab.inventory,
      sshPrivateKey: fs.readFileSync(lab.clientKeyPath),
      ssh: { connectTimeoutMs: 5_000, commandTimeoutMs: 30_000, outputLimitBytes: 1024 * 1024 },
      platformUrl: lab.platformUrl,
      platformToken: lab.platformToken,
      temporal: client,
      // Node leases only: these benches measure one run and the API, not the fleet budget.
      budgets: {},
      ledgerTaskQueue: TASK_QUEUE,
      pool: stack.db.pool,
      logger,
    });
    say('bundling workflows');
    const worker = await createRunbookWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: TASK_QUEUE,
      activities,
      tracing,
      shutdownGraceMs: 10_000,
      workflowBundle: await bundleWorkflows(),
    });
    const bareWorker = await Worker.create({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue: BARE_TASK_QUEUE,
      workflowBundle: await bundleWorkflowCode({ workflowsPath: require.resolve('./bare-workflows'), logger: temporalLogger(logger) }),
      activities,
    });
    const labAdmin = new LabAdmin(lab.platformUrl, lab.platformToken);
    // runUntil shuts each worker down when the runs end or fail.
    return await worker.runUntil(() => bareWorker.runUntil(() => runAll(client, bareClient, labAdmin)));
  } finally {
    await tracing.shutdown();
    await temporal.close();
  }
}

async function runAll(client: Client, bareClient: Client, lab: LabAdmin): Promise<Samples> {
  const nodes = nodeIds();
  const s: Samples = { cordon: [], xidRun: [], framework: [], bare: [] };
  const label = (i: number) => (i < WARMUP ? `warm-up ${i + 1}/${WARMUP}` : `run ${i - WARMUP + 1}/${RUNS}`);
  const keep = (i: number, list: number[], v: number) => {
    if (i >= WARMUP) list.push(v);
  };

  // (b) and (c), interleaved so both see the same machine load; order alternates.
  // No-fault runs only read, so they leave the nodes clean for the cordon runs.
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const node = nodes[i % nodes.length]!;
    const one = async (kind: 'framework' | 'bare') => {
      const ms = kind === 'framework' ? await frameworkNoFault(client, node, i) : await bareNoFault(bareClient, node, i);
      keep(i, kind === 'framework' ? s.framework : s.bare, ms);
      return ms;
    };
    const [first, second] = i % 2 === 0 ? (['framework', 'bare'] as const) : (['bare', 'framework'] as const);
    const a = await one(first);
    const b = await one(second);
    const [fw, bare] = first === 'framework' ? [a, b] : [b, a];
    say(`no-fault ${label(i)} on ${node}: framework ${fw.toFixed(1)} ms, bare ${bare.toFixed(1)} ms`);
  }

  // (a) one never-faulted node per run.
  for (let i = 0; i < WARMUP + RUNS; i++) {
    const node = nodes[i]!;
    const { cordonMs, totalMs } = await xidRun(client, lab, node, i);
    keep(i, s.cordon, cordonMs);
    keep(i, s.xidRun, totalMs);
    say(`cordon latency ${label(i)} on ${node}: cordoned after ${cordonMs} ms, returned to service after ${totalMs.toFixed(1)} ms`);
  }
  return s;
}

function startGpuFault(client: Client, req: GpuFaultRequest) {
  return client.workflow.start('gpuFaultRemediation', {
    taskQueue: TASK_QUEUE,
    workflowId: gpuFaultWorkflowId(req.node_id),
    args: [{ ...DURATIONS, source: 'bench', ...req }],
    workflowIdConflictPolicy: 'FAIL',
  });
}

function expectOutcome(what: string, actual: string, expected: string): void {
  if (actual !== expected) throw new Error(`${what}: outcome ${actual}, expected ${expected}`);
}

async function frameworkNoFault(client: Client, node: string, i: number): Promise<number> {
  const t0 = performance.now();
  const handle = await startGpuFault(client, { node_id: node, correlation_id: `bench-${process.pid}-nofault-${i}` });
  const report: RunReport = await handle.result();
  const ms = performance.now() - t0;
  expectOutcome(`no-fault run ${i} on ${node}`, report.outcome, 'no_fault_found');
  return ms;
}

async function bareNoFault(client: Client, node: string, i: number): Promise<number> {
  const t0 = performance.now();
  const handle = await client.workflow.start<typeof bareGpuPrecheck>('bareGpuPrecheck', {
    taskQueue: BARE_TASK_QUEUE,
    workflowId: `bench-bare/${node}/${process.pid}-${i}`,
    args: [node],
  });
  const result = await handle.result();
  const ms = performance.now() - t0;
  expectOutcome(`bare run ${i} on ${node}`, result.outcome, 'no_fault_found');
  return ms;
}

/** Transient Xid 48 → reset GPU → diag → back in service. Cordon time is the lab's record of the cordon. */
async function xidRun(client: Client, lab: LabAdmin, node: string, i: number): Promise<{ cordonMs: number; totalMs: number }> {
  await lab.injectXid(node, XID_GPU, 48);
  const t0 = Date.now();
  const p0 = performance.now();
  const handle = await startGpuFault(client, { node_id: node, xid: 48, gpu_index: XID_GPU, correlation_id: `bench-${process.pid}-xid-${i}` });
  const report: RunReport = await handle.result();
  const totalMs = performance.now() - p0;
  expectOutcome(`Xid 48 run ${i} on ${node}`, report.outcome, 'returned_to_service');
  const cordons = (await lab.records(node)).mutations.filter((m) => m.kind === 'cordon' && m.applied);
  if (cordons.length !== 1) throw new Error(`Xid 48 run ${i} on ${node}: ${cordons.length} applied cordon(s) in the lab records, expected 1`);
  return { cordonMs: Date.parse(cordons[0]!.at) - t0, totalMs };
}

function report(s: Samples, started: Date, embeddedDb: boolean): void {
  const mem = process.memoryUsage();
  const fig = {
    cordon_latency: summarize(s.cordon),
    xid_run_total: summarize(s.xidRun),
    no_fault_framework: summarize(s.framework),
    no_fault_bare: summarize(s.bare),
  };
  const ratio = (k: 'p50' | 'p95') => Math.round((fig.no_fault_framework[k] / fig.no_fault_bare[k]) * 100) / 100;
  const overhead = { p50: ratio('p50'), p95: ratio('p95') };
  const machine = {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model ?? 'unknown',
    total_mem_mb: Math.round(os.totalmem() / 2 ** 20),
    loadavg_at_start: loadAtStart,
    loadavg_at_end: loadavg(),
    database: embeddedDb ? 'embedded PostgreSQL' : 'DATABASE_URL',
  };
  const memory = { rss_mb: Math.round(mem.rss / 2 ** 20), heap_used_mb: Math.round(mem.heapUsed / 2 ** 20) };
  const row = (name: string, x: Summary) => [name, x.n, x.min, x.p50, x.p95, x.max, x.mean];

  console.log(`\ngpu-fault-remediation latency, ms (${WARMUP} warm-up runs discarded)\n`);
  console.log(
    table(
      ['figure', 'n', 'min', 'p50', 'p95', 'max', 'mean'],
      [
        row('(a) trigger → node cordoned (Xid 48)', fig.cordon_latency),
        row("(a') Xid 48 run → returned_to_service", fig.xid_run_total),
        row('(b) no-fault run, framework', fig.no_fault_framework),
        row('(c) no-fault run, bare activities', fig.no_fault_bare),
      ],
    ),
  );
  console.log(`\nframework overhead (b)/(c): p50 x${overhead.p50}, p95 x${overhead.p95}`);
  console.log(
    `machine: node ${machine.node}, ${machine.cpus} CPU(s), ${machine.cpu_model}, ${machine.platform}, load avg (1/5/15 min) ${loadAtStart.join(' ')} at start, ${machine.loadavg_at_end.join(' ')} at end, ${machine.database}`,
  );
  console.log(`memory of this process (worker + lab + clients) after the runs: rss ${memory.rss_mb} MB, heapUsed ${memory.heap_used_mb} MB`);

  const json = { started_at: started.toISOString(), runs: RUNS, warmup: WARMUP, unit: 'ms', figures: fig, framework_overhead: overhead, machine, memory };
  fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  fs.writeFileSync(RESULTS_FILE, `${JSON.stringify(json, null, 2)}\n`);
  console.log(`results written to ${RESULTS_FILE}`);
}

if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`BENCH_RUNS must be a positive integer, got ${process.env.BENCH_RUNS}`);

runBench(
  'bench',
  `${WARMUP} warm-up + ${RUNS} measured runs each`,
  // Host commands at 1/1000 of their real durations: the bench measures the engine, not the lab's clock.
  { extraGpuNodes: WARMUP + RUNS, drainDelayMs: 0, rebootDelayMs: 100, timeScale: 0.001 },
  async (stack) => {
    const started = new Date();
    const samples = await measure(stack);
    report(samples, started, !process.env.DATABASE_URL);
  },
);
