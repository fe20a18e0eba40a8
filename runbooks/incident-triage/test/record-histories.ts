/**
 * Records incident-triage's histories for the replay tests:
 * `npx tsx runbooks/incident-triage/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { decide } from '../../gpu-fault-remediation/test/scenarios';
import { incidentTriageWorkflowId, type IncidentTriageRequest } from '../input';

/** Injects one of the lab's incidents and triages it. */
const triage =
  (incident: string, extra: Partial<IncidentTriageRequest> = {}, omit: ('host_role' | 'correlation_id')[] = []): Scenario =>
  async (s, taskQueue) => {
    const injected = await s.lab.injectIncident({ scenario: incident, correlation_id: `record-${incident}`, omit });
    return s.client.workflow.start('incidentTriage', {
      taskQueue,
      workflowId: incidentTriageWorkflowId(injected.correlation_id),
      args: [{ correlation_id: injected.correlation_id, trace_id: injected.trace_id, lookback: '1h', ...extra }],
    });
  };

const scenarios: Record<string, Scenario> = {
  'chain-boundary-identified': triage('chain-registry-controller-worker'),
  'runner-on-gpu-finding': triage('platform-ci-image-drift', { node_id: 'dev-gpu-1' }),
  'host-role-gap': triage('app-control-component-unavailable', {}, ['host_role']),
  'gpu-validation-next-step-approved': async (s, taskQueue) => {
    const handle = await triage('worker-gpu-validation-failure', { node_id: 'dev-gpu-1' })(s, taskQueue);
    if ('open' in handle) return handle;
    await decide(handle, 'approve_next_step', 'approve');
    return handle;
  },
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: 'v1', scenarios });
