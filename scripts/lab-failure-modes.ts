/**
 * Runs app-instance-deploy on each of seed 001's failure modes in the lab (alone, and
 * the 3 → 4 → 5 chain) and prints, per mode, the outcome, the fix steps and how long
 * the run took: `npx tsx scripts/lab-failure-modes.ts`. Controller fixes are approved
 * by signal as an on-call approver. The lab runs at the tests' time scale (0.002), so
 * the figures are the engine's own overhead plus scaled host time.
 */
import { approvalSignal, statusQuery } from '../domain/messages';
import type { RunReport } from '../domain/runbook';
import type { AppRuntimeFault } from '../lab/admin-client';
import { appInstanceDeployWorkflowId } from '../runbooks/app-instance-deploy/input';
import { withLabStack } from '../test/support/record-histories';

const CASES: [string, AppRuntimeFault[]][] = [
  ['1 no controller', [{ fault: 'no_controller' }]],
  ['2 controller dials hostname', [{ fault: 'hostname_build' }]],
  ['3 node API unreachable', [{ fault: 'node_api_unreachable' }]],
  ['4 agent certificate expired', [{ fault: 'agent_cert_expired' }]],
  ['5 enrollment token stale', [{ fault: 'stale_enrollment_token' }]],
  ['6 tasks queued (agent stopped)', [{ fault: 'agent_stopped' }]],
  ['3 → 4 → 5 chain', [{ fault: 'node_api_unreachable' }, { fault: 'agent_cert_expired' }, { fault: 'stale_enrollment_token' }]],
];

const FIX_STEPS = new Set([
  'bring_up_controller',
  'upgrade_controller',
  'restore_node_api_mapping',
  'rotate_agent_certificate',
  'reenroll_node_agent',
  'reconcile_bootstrap_ssh',
  'restart_node_agent',
]);

async function main(): Promise<void> {
  const rows: string[] = [];
  const stepLists: string[] = [];
  await withLabStack(undefined, async (s, taskQueue) => {
    for (const [name, faults] of CASES) {
      await s.lab.reset();
      const { instance } = await s.lab.createDeployingInstance({ projectId: 'proj-lab', controllerNodeId: 'dev-gpu-1', faults });
      const handle = await s.client.workflow.start('appInstanceDeploy', {
        taskQueue,
        workflowId: appInstanceDeployWorkflowId('proj-lab', instance.id),
        args: [{ project_id: 'proj-lab', app_instance_id: instance.id, converge_timeout: '20s', poll_interval: '100ms' }],
      });
      const answering = (async () => {
        for (;;) {
          const st = await handle.query(statusQuery).catch(() => null);
          if (!st || st.outcome) return;
          const p = st.pending_approval;
          if (p) await handle.signal(approvalSignal, { decision: 'approve', actor: 'sre-oncall', reason: 'lab timing run', approval_id: p.id });
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const report = (await handle.result()) as RunReport;
      await answering;
      const ms = Date.parse(report.ended_at) - Date.parse(report.started_at);
      const fixes = report.steps.filter((st) => FIX_STEPS.has(st.name)).map((st) => `${st.name} ${Date.parse(st.ended_at!) - Date.parse(st.started_at)} ms`);
      rows.push(`| ${name} | ${report.outcome} | ${report.steps.length} | ${fixes.join(', ')} | ${(ms / 1000).toFixed(1)} s |`);
      stepLists.push(`- ${name}: ${report.steps.map((st) => st.name).join(' → ')}`);
      process.stderr.write(`[timing] ${name}: ${report.outcome} in ${ms} ms\n`);
    }
  });
  process.stdout.write(
    ['| failure mode | outcome | steps | fix steps (duration) | run |', '|---|---|---|---|---|', ...rows, '', ...stepLists].join('\n') + '\n',
  );
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
