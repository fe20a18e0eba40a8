/**
 * Triages seed 000's incidents in the lab and prints each run's evidence report:
 * `npx tsx scripts/lab-triage.ts [scenario ...]` (default: the cross-host chain, a CI
 * runner left on the GPU worker, and a failure logged without host_role). Each
 * incident is injected into the lab's Loki and Tempo, then incident-triage runs on
 * its correlation_id alone, as support would start it.
 */
import type { RunReport } from '../domain/runbook';
import { incidentTriageWorkflowId } from '../runbooks/incident-triage/input';
import { withLabStack } from '../test/support/record-histories';

const DEFAULT: [string, ('host_role' | 'correlation_id')[]][] = [
  ['chain-registry-controller-worker', []],
  ['platform-ci-image-drift', []],
  ['app-control-component-unavailable', ['host_role']],
];

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const cases = asked.length ? asked.map((s): [string, []] => [s, []]) : DEFAULT;
  await withLabStack(undefined, async (s, taskQueue) => {
    for (const [scenario, omit] of cases) {
      await s.lab.reset();
      const incident = await s.lab.injectIncident({ scenario, omit });
      const report = (await s.client.workflow.execute('incidentTriage', {
        taskQueue,
        workflowId: incidentTriageWorkflowId(incident.correlation_id),
        args: [{ correlation_id: incident.correlation_id, trace_id: incident.trace_id, lookback: '1h', approval_timeout: '1s' }],
      })) as RunReport;
      const { rows } = await s.pool.query<{ data: unknown }>(`SELECT data FROM evidence WHERE workflow_id = $1 AND idempotency_key LIKE '%triage-report'`, [
        incidentTriageWorkflowId(incident.correlation_id),
      ]);
      process.stdout.write(`\n## ${scenario}${omit.length ? ` (without ${omit.join(', ')})` : ''}\n`);
      process.stdout.write(
        `outcome: ${report.outcome}\nsummary: ${report.summary}\nsteps: ${report.steps.map((st) => `${st.name}:${st.status}`).join(' → ')}\n`,
      );
      process.stdout.write(`report: ${JSON.stringify(rows[0]?.data ?? null, null, 2)}\n`);
    }
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
