/**
 * `npm run bench:rolling`: a rolling GPU driver upgrade over BENCH_NODES lab
 * workers (default 1,000) as one fleet run of gpu-driver-upgrade, at most
 * BENCH_K nodes out of service at once (the lab pool's disruption cap, default
 * 50), the lab's durations scaled by BENCH_TIME_SCALE (default 0.02: apt 3.6 s,
 * a reboot 3.7 s, diag r1 1.2 s). The worker runs as its own process (`npm run
 * worker`), as in production, so its memory is its own. Prints, against a
 * baseline measured first in the same run:
 *   - wall time of the roll against the ideal ⌈N/k⌉ × one node's upgrade alone
 *     (p50 of SOLO_RUNS runs, each on a node of its own);
 *   - the most nodes out of service at once, from the lab's cordon records;
 *   - history events per execution: every execution of the fleet run
 *     (continue-as-new) and the longest node run;
 *   - the worker process's peak RSS (VmHWM) and its RSS at the end.
 * Figures only: nothing about time is asserted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { FleetRunInput, FleetRunReport } from '../../domain/fleet-run';
import type { RunReport } from '../../domain/runbook';
import { LabAdmin } from '../../lab/admin-client';
import { gpuDriverUpgradeWorkflowId } from '../../runbooks/gpu-driver-upgrade/input';
import { connectTemporal, installTemporalRuntime } from '../../runtime/bootstrap';
import type { Stack } from '../stack';
import { runBench } from './bench-stack';
import { machineLine, summarize, table } from './stats';

const ROOT = path.resolve(__dirname, '../..');
const RESULTS_FILE = path.join(ROOT, '.data', 'bench-rolling-upgrade.json');
const NODES = Number(process.env.BENCH_NODES ?? 1000);
const K = Number(process.env.BENCH_K ?? 50);
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 0.02);
const SOLO_RUNS = 3;
const TASK_QUEUE = `bench-rolling-${process.pid}`;
const REQUEST = {
  package: 'nvidia-driver-550-server=550.127.08-0ubuntu1',
  driver_version: '550.127.08',
  diag_level: 1,
  drain_timeout: '10m',
  reboot_timeout: '10m',
  poll_interval: '250ms',
} as const;

const logger = pino({ level: 'warn' });
const say = (line: string) => console.log(`[bench:rolling] ${line}`);

/** `npm run worker` against the stack and its lab, the pool's cap as the budget. */
function startWorker(stack: Stack): ChildProcess {
  const lab = stack.lab!;
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'workers/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      TEMPORAL_TASK_QUEUE: TASK_QUEUE,
      DATABASE_URL: stack.db.url,
      INVENTORY_FILE: lab.inventoryPath,
      SSH_PRIVATE_KEY_FILE: lab.clientKeyPath,
      PLATFORM_API_URL: lab.platformUrl,
      PLATFORM_API_TOKEN: lab.platformToken,
      DISRUPTION_BUDGETS: JSON.stringify({ pool: { max: K } }),
      SSH_COMMAND_TIMEOUT: '120s',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

/** VmHWM (peak) and VmRSS of a process, in MiB, from /proc. */
function memoryOf(pid: number): { peak_mib: number; rss_mib: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak_mib: Math.round(kib('VmHWM') / 1024), rss_mib: Math.round(kib('VmRSS') / 1024) };
}

async function run(stack: Stack): Promise<void> {
  const lab = stack.lab!;
  const admin = new LabAdmin(lab.platformUrl, lab.platformToken);
  installTemporalRuntime(logger);
  const temporal = await connectTemporal(stack.temporalAddress, 'default');
  say(`starting the worker process (pool cap ${K})`);
  const worker = startWorker(stack);
  // The worker's own processes (tsx runs node as a child of the spawned one).
  const workerPid = () => Number(fs.readFileSync(`/proc/${worker.pid}/task/${worker.pid}/children`, 'utf8').trim().split(/\s+/)[0] || worker.pid);
  try {
    const upgrade = async (node: string): Promise<RunReport> =>
      (await temporal.client.workflow.execute('gpuDriverUpgrade', {
        taskQueue: TASK_QUEUE,
        workflowId: gpuDriverUpgradeWorkflowId(node),
        args: [{ ...REQUEST, node_id: node, correlation_id: `bench-rolling-solo-${node}` }],
      })) as RunReport;

    // Baseline: one node alone (a warm-up, then SOLO_RUNS measured), each on a node of its own.
    const solo: number[] = [];
    for (let i = 0; i <= SOLO_RUNS; i++) {
      const t0 = performance.now();
      const r = await upgrade(`dev-gpu-${i + 1}`);
      if (r.outcome !== 'upgraded') throw new Error(`solo run on dev-gpu-${i + 1}: ${r.outcome} (${r.summary})`);
      if (i > 0) solo.push(performance.now() - t0);
      say(`solo ${i === 0 ? 'warm-up' : i}: ${Math.round(performance.now() - t0)} ms`);
    }
    const soloMs = summarize(solo).p50;
    const seqBefore = Math.max(0, ...(await admin.records()).mutations.map((m) => m.seq));

    const nodes = Array.from({ length: NODES }, (_, i) => `dev-gpu-${i + SOLO_RUNS + 2}`);
    const fleetId = `fleet/gpu-driver-upgrade/bench-${process.pid}`;
    const input: FleetRunInput = {
      runbook: 'gpu-driver-upgrade',
      child_workflow_type: 'gpuDriverUpgrade',
      targets: nodes.map((n) => ({ node_id: n, workflow_id: gpuDriverUpgradeWorkflowId(n), input: { ...REQUEST, node_id: n } })),
      // The budget, not the fleet run, is the limit: more in flight than the cap only wait for slots.
      max_concurrency: Math.min(NODES, 2 * K),
      max_errors: { percent: 5 },
      correlation_id: `bench-rolling-${process.pid}`,
    };
    say(`rolling ${NODES} nodes, maxUnavailable ${K}`);
    const t0 = performance.now();
    let peakMib = 0;
    const sampler = setInterval(() => {
      try {
        peakMib = Math.max(peakMib, memoryOf(workerPid()).peak_mib);
      } catch {
        /* the worker is starting or gone */
      }
    }, 1_000);
    const progress = setInterval(() => say(`${Math.round((performance.now() - t0) / 1000)} s`), 30_000);
    const report = (await temporal.client.workflow.execute('fleetRun', { taskQueue: TASK_QUEUE, workflowId: fleetId, args: [input] })) as FleetRunReport;
    const rollMs = performance.now() - t0;
    clearInterval(sampler);
    clearInterval(progress);
    const memory = memoryOf(workerPid());

    const outcomes: Record<string, number> = {};
    for (const t of report.targets) outcomes[t.outcome ?? t.state] = (outcomes[t.outcome ?? t.state] ?? 0) + 1;
    const events = (await admin.records()).mutations
      .filter((m) => m.seq > seqBefore && m.applied && (m.kind === 'cordon' || m.kind === 'uncordon'))
      .sort((a, b) => a.seq - b.seq);
    let out = 0;
    let mostOut = 0;
    for (const e of events) {
      out += e.kind === 'cordon' ? 1 : -1;
      mostOut = Math.max(mostOut, out);
    }
    const fleetExecutions: number[] = [];
    for await (const e of temporal.client.workflow.list({ query: `WorkflowId = '${fleetId}'` })) fleetExecutions.push(e.historyLength);
    let longestNodeRun = 0;
    for await (const e of temporal.client.workflow.list({ query: `WorkflowType = 'gpuDriverUpgrade'` }))
      longestNodeRun = Math.max(longestNodeRun, e.historyLength);

    const waves = Math.ceil(NODES / K);
    const idealMs = waves * soloMs;
    console.log(`\nrolling driver upgrade: ${NODES} nodes, maxUnavailable ${K} (pool budget), time scale ${TIME_SCALE}\n`);
    console.log(
      table(
        ['figure', 'value'],
        [
          ['one node alone (p50 of 3)', `${Math.round(soloMs)} ms`],
          [`ideal: ${waves} waves × one node`, `${Math.round(idealMs)} ms`],
          ['roll wall time', `${Math.round(rollMs)} ms`],
          ['roll / ideal', `x${(rollMs / idealMs).toFixed(3)}`],
          ['most nodes out at once', `${mostOut} (cap ${K})`],
          ['fleet run executions', `${fleetExecutions.length}`],
          ['history events, largest fleet execution', `${Math.max(...fleetExecutions)}`],
          ['history events, longest node run', `${longestNodeRun}`],
          ['worker peak RSS (VmHWM)', `${Math.max(peakMib, memory.peak_mib)} MiB`],
          ['worker RSS at the end', `${memory.rss_mib} MiB`],
        ],
      ),
    );
    console.log(`\noutcomes ${JSON.stringify(outcomes)}`);
    console.log(machineLine());
    fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
    fs.writeFileSync(
      RESULTS_FILE,
      JSON.stringify(
        {
          nodes: NODES,
          max_unavailable: K,
          time_scale: TIME_SCALE,
          solo_ms: soloMs,
          ideal_ms: idealMs,
          roll_ms: rollMs,
          ratio: rollMs / idealMs,
          most_out: mostOut,
          fleet_executions: fleetExecutions,
          longest_node_run_events: longestNodeRun,
          worker_memory: { ...memory, peak_mib: Math.max(peakMib, memory.peak_mib) },
          outcomes,
        },
        null,
        2,
      ),
    );
    say(`results written to ${path.relative(ROOT, RESULTS_FILE)}`);
  } finally {
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker.once('exit', resolve));
    await temporal.close();
  }
}

for (const [name, v] of Object.entries({ NODES, K })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_${name} must be a positive integer, got ${v}`);
}
if (!(TIME_SCALE > 0 && TIME_SCALE <= 1)) throw new Error(`BENCH_TIME_SCALE must be in (0, 1], got ${TIME_SCALE}`);

runBench(
  'bench:rolling',
  `${NODES} workers (+${SOLO_RUNS + 1} for the baseline), maxUnavailable ${K}, time scale ${TIME_SCALE}`,
  // One rack for all: the pool cap alone limits the roll.
  { extraGpuNodes: NODES + SOLO_RUNS, rackSize: NODES + SOLO_RUNS + 1, drainDelayMs: 50, timeScale: TIME_SCALE },
  run,
);
