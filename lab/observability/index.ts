/** The lab's Loki and Tempo: stores its services write to, the read APIs, Loki's push API, and incident injection. */
import type { FastifyInstance } from 'fastify';
import { registerIncidentAdmin } from './admin-routes';
import type { LabObservability } from './lab-observability';
import { registerPushApi } from './push-api';
import { registerQueryApi } from './query-api';

export { LabObservability, type ServiceLogWriter } from './lab-observability';

export function registerObservabilityApi(app: FastifyInstance, obs: LabObservability): void {
  registerQueryApi(app, { logs: obs.logs, traces: obs.traces });
  registerPushApi(app, obs.logs);
  registerIncidentAdmin(app, obs);
}
