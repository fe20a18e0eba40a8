/**
 * How long each host command may run on the host before the engine stops it:
 * realistic figures with room to spare. Shared by the activities (the host
 * job's own deadline) and the workflows (activity timeouts around it).
 */
const MINUTE = 60_000;

export const HOST_COMMAND_BUDGET_MS = {
  persistence_mode: MINUTE,
  reset_gpu: 2 * MINUTE,
  /** apt-get of a driver package: download, unpack, dkms building the module (minutes; slow mirrors more). */
  driver_install: 30 * MINUTE,
} as const;

/** dcgmi diag per level: r1 ~1 min, r2 ~2 min, r3 ~15 min, r4 ~1 h on 8 GPUs. */
const DIAG_BUDGET_MS: Readonly<Record<number, number>> = { 1: 10 * MINUTE, 2: 15 * MINUTE, 3: 60 * MINUTE, 4: 4 * 60 * MINUTE };

export function diagBudgetMs(level: number): number {
  return DIAG_BUDGET_MS[level] ?? 60 * MINUTE;
}
