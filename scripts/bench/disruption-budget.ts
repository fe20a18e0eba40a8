/**
 * `npm run bench:budget`: the fleet-wide disruption budget under a fault storm.
 * RACKS racks of RACK_SIZE lab nodes (default 20 × 10), a cap of CAP node(s) per
 * rack (default 1), one transient Xid 48 on every node, and every
 * gpu-fault-remediation run started at once on one worker. Prints:
 *   - the most nodes of each rack ever out of service at once, from the lab's own
 *     records of cordons and uncordons (must never exceed the cap);
 *   - the time to drain the queue against the ideal: ceil(RACK_SIZE / CAP) runs
 *     one after another per rack, racks in parallel, each as long as a run alone
 *     (measured first, in the same process, on the same stack).
 * Figures only: nothing about time is asserted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import type { RunReport } from '../../domain/runbook';
import { LabAdmin } from '../../lab/admin-client';
import { gpuFaultWorkflowId } from '../../runbooks/gpu-fault-remediation/input';
import { connectTemporal, installTemporalRuntime } from '../../runtime/bootstrap';
import { installTracing } from '../../runtime/tracing';
import type { Stack } from '../stack';
import { runBench } from './bench-stack';
import { labWorker } from './lab-worker';
import { machineLine, summarize, table } from './stats';

const ROOT = path.resolve(__dirname, '../..');
const RESULTS_FILE = path.join(ROOT, '.data', 'bench-budget.json');
const RACKS = Number(process.env.BENCH_RACKS ?? 20);
const RACK_SIZE = Number(process.env.BENCH_RACK_SIZE ?? 10);
const CAP = Number(process.env.BENCH_CAP ?? 1);
const SOLO_RUNS = 3;
const NODES = RACKS * RACK_SIZE;
const TASK_QUEUE = `bench-budget-${process.pid}`;
const DURATIONS = { drain_timeout: '5s', approval_timeout: '30s', reboot_timeout: '20s', poll_interval: '100ms', diag_level: 2 } as const;
const IN_FLIGHT_STARTS = 50;

const logger = pino({ level: 'warn' });
const say = (line: string) => console.log(`[bench:budget] ${line}`);

async function run(stack: Stack): Promise<void> {
  const lab = stack.lab!;
  const admin = new LabAdmin(lab.platformUrl, lab.platformToken);
  installTemporalRuntime(logger);
  const tracing = installTracing({ serviceName: 'gpuaas-runbooks-bench-budget' });
  const temporal = await connectTemporal(stack.temporalAddress, 'default');
  say('bundling workflows');
  const worker = await labWorker(stack, temporal, { taskQueue: TASK_QUEUE, tracing, logger, budgets: { rack: { max: CAP } } });
  const remediate = async (node: string): Promise<RunReport> => {
    const handle = await temporal.client.workflow.start('gpuFaultRemediation', {
      taskQueue: TASK_QUEUE,
      workflowId: gpuFaultWorkflowId(node),
      args: [{ ...DURATIONS, node_id: node, correlation_id: `bench-budget-${node}` }],
    });
    return handle.result();
  };
  try {
    await worker.runUntil(async () => {
      // Baseline: one run alone, on a node of its own each time (a warm-up, then measured).
      const solo: number[] = [];
      for (let i = 0; i <= SOLO_RUNS; i++) {
        const node = `dev-gpu-${i + 1}`;
        await admin.injectXid(node, 3, 48);
        const t0 = performance.now();
        const r = await remediate(node);
        if (r.outcome !== 'returned_to_service') throw new Error(`solo run on ${node}: ${r.outcome} (${r.summary})`);
        if (i > 0) solo.push(performance.now() - t0);
      }
      const soloMs = summarize(solo).p50;
      const seqBefore = Math.max(0, ...(await admin.records()).mutations.map((m) => m.seq));

      say(`storm: ${NODES} faults at once`);
      const nodes = Array.from({ length: NODES }, (_, i) => `dev-gpu-${i + 1}`);
      for (const node of nodes) await admin.injectXid(node, 5, 48);
      const t0 = performance.now();
      const results: Promise<RunReport>[] = [];
      for (let i = 0; i < nodes.length; i += IN_FLIGHT_STARTS) {
        const batch = nodes.slice(i, i + IN_FLIGHT_STARTS).map((n) => ({
          n,
          handle: temporal.client.workflow.start('gpuFaultRemediation', {
            taskQueue: TASK_QUEUE,
            workflowId: gpuFaultWorkflowId(n),
            args: [{ ...DURATIONS, node_id: n, correlation_id: `bench-budget-storm-${n}` }],
          }),
        }));
        for (const { handle } of batch) results.push(handle.then((h) => h.result() as Promise<RunReport>));
        await Promise.all(batch.map((b) => b.handle));
      }
      const reports = await Promise.all(results);
      const drainMs = performance.now() - t0;

      const rackOf = new Map(lab.inventory.hosts.map((h) => [h.node_id, h.labels['rack'] ?? '-']));
      const events = (await admin.records()).mutations
        .filter((m) => m.seq > seqBefore && m.applied && (m.kind === 'cordon' || m.kind === 'uncordon'))
        .sort((a, b) => a.seq - b.seq);
      const out = new Map<string, number>();
      const peak = new Map<string, number>();
      for (const e of events) {
        const rack = rackOf.get(e.node_id)!;
        const now = (out.get(rack) ?? 0) + (e.kind === 'cordon' ? 1 : -1);
        out.set(rack, now);
        peak.set(rack, Math.max(peak.get(rack) ?? 0, now));
      }
      const outcomes: Record<string, number> = {};
      for (const r of reports) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
      const idealMs = Math.ceil(RACK_SIZE / CAP) * soloMs;
      const maxPeak = Math.max(...peak.values());
      console.log(`\ndisruption budget: ${NODES} faults over ${RACKS} racks of ${RACK_SIZE}, cap ${CAP} per rack\n`);
      console.log(
        table(
          ['rack', 'most nodes out at once', 'cap'],
          [...peak.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([rack, p]) => [rack, p, CAP]),
        ),
      );
      console.log(`\nmost out at once in any rack  ${maxPeak} (cap ${CAP}: ${maxPeak <= CAP ? 'never exceeded' : 'EXCEEDED'})`);
      console.log(`outcomes                      ${JSON.stringify(outcomes)}`);
      console.log(`one run alone (p50 of ${SOLO_RUNS})     ${Math.round(soloMs)} ms`);
      console.log(`queue drained in              ${Math.round(drainMs)} ms`);
      console.log(`ideal (${Math.ceil(RACK_SIZE / CAP)} runs per rack in turn) ${Math.round(idealMs)} ms`);
      console.log(`drain / ideal                 x${(drainMs / idealMs).toFixed(2)}`);
      console.log(machineLine());
      fs.mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
      fs.writeFileSync(
        RESULTS_FILE,
        JSON.stringify(
          { racks: RACKS, rack_size: RACK_SIZE, cap: CAP, peak: Object.fromEntries(peak), outcomes, solo_ms: soloMs, drain_ms: drainMs, ideal_ms: idealMs },
          null,
          2,
        ),
      );
      say(`results written to ${path.relative(ROOT, RESULTS_FILE)}`);
    });
  } finally {
    await temporal.close();
    await tracing.shutdown();
  }
}

for (const [name, v] of Object.entries({ RACKS, RACK_SIZE, CAP })) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`BENCH_${name} must be a positive integer, got ${v}`);
}
if (NODES <= SOLO_RUNS) throw new Error(`the baseline needs ${SOLO_RUNS + 1} nodes; BENCH_RACKS × BENCH_RACK_SIZE is ${NODES}`);

runBench(
  'bench:budget',
  `${RACKS} racks × ${RACK_SIZE} nodes, cap ${CAP} per rack`,
  { extraGpuNodes: NODES - 1, rackSize: RACK_SIZE, drainDelayMs: 50, timeScale: 0.001 },
  run,
);
