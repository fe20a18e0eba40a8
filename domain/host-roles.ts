import { z } from 'zod';

/** The three host roles of the GPU cloud. Every host in the inventory has exactly one. */
export const HOST_ROLES = ['platform_control', 'app_control', 'worker_compute'] as const;
export const HostRoleSchema = z.enum(HOST_ROLES);
export type HostRole = z.infer<typeof HostRoleSchema>;

/**
 * Which host roles an action may run on. Enforced by the activities before any
 * connection is made, so a mistyped node id can never reset a control-plane host.
 */
export const ACTION_ALLOWED_ROLES = {
  read_gpu_state: ['worker_compute'],
  reset_gpu: ['worker_compute'],
  reboot_host: ['worker_compute'],
  run_gpu_diag: ['worker_compute'],
  set_persistence_mode: ['worker_compute'],
  install_gpu_driver: ['worker_compute'],
  read_boot_id: ['worker_compute', 'app_control', 'platform_control'],
  // Incident triage's boundary validation reads every role's process list, and changes nothing.
  read_processes: ['worker_compute', 'app_control', 'platform_control'],
  // Platform-app control components (the Slurm controller) live on app_control only (seed 002).
  read_app_controller: ['app_control'],
  manage_app_controller: ['app_control'],
  // The node-agent is a worker's own service: its repair never moves onto a control host.
  read_node_agent: ['worker_compute'],
  repair_node_agent: ['worker_compute'],
  // An allocation's bootstrap SSH trust lives in its user's authorized_keys on the worker.
  read_allocation_keys: ['worker_compute'],
  // The GPU orchestrator's replicas are control components: on control hosts, never on a GPU
  // worker (seed 004 runs them beside the platform; the lab puts its second replica on app_control).
  read_orchestrator: ['platform_control', 'app_control'],
  manage_orchestrator: ['platform_control', 'app_control'],
  // Its worker pools are processes on the GPU workers: only there are their PIDs read or signalled.
  read_pool_processes: ['worker_compute'],
  signal_pool_workers: ['worker_compute'],
  // The model files pool workers load live on the GPU workers; a DLQ replay checks they are back.
  read_model_artifacts: ['worker_compute'],
} as const satisfies Record<string, readonly HostRole[]>;

export type HostAction = keyof typeof ACTION_ALLOWED_ROLES;

export function isActionAllowed(action: HostAction, role: HostRole): boolean {
  return (ACTION_ALLOWED_ROLES[action] as readonly HostRole[]).includes(role);
}
