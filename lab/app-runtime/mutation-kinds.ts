/** What the engine can change in the platform-app part of the lab, as recorded in the lab's records. */

/** Over SSH: files written, moved or removed, services started or stopped, the controller installed. */
export type AppSshMutationKind =
  'file_write' | 'file_move' | 'file_remove' | 'unit_start' | 'unit_stop' | 'unit_restart' | 'unit_enable' | 'controller_install';

/** Over the platform API. */
export type AppHttpMutationKind = 'app_instance_create' | 'member_operation' | 'bootstrap_ssh_reconcile' | 'enrollment_token';
