/**
 * The GPU orchestrator part of the lab (seed 004): built when the lab is given
 * backends (Redis and MySQL/MariaDB or PostgreSQL), absent otherwise.
 */
export { registerOrchestratorAdmin } from './admin-routes';
export { OrchestratorLab, type OrchestratorBackends, type OrchestratorOptions } from './orchestrator-lab';
