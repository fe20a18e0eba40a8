/** What the engine can change in the orchestrator part of the lab over SSH, as recorded in the lab's records. */
export type OrchestratorSshMutationKind = 'process_kill' | 'orchestrator_install';
