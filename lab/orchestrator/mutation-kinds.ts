/** What the engine can change in the orchestrator part of the lab over SSH, as recorded in the lab's records. */
export type OrchestratorSshMutationKind = 'process_kill' | 'orchestrator_install';

/** What the engine can change through a replica's HTTP API (recorded on the replica's host). */
export type OrchestratorHttpMutationKind = 'pool_stop' | 'pool_start' | 'pools_stop_all' | 'maintenance_mode';
