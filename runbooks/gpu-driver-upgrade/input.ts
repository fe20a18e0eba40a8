import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { NodeIdSchema } from '../../domain/inventory';
import { PLAN_OUTCOMES } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_GPU_DRIVER_UPGRADE = 'gpu-driver-upgrade';

/** An apt pin, `nvidia-driver-550-server=550.127.08-0ubuntu1`: one package at one version. */
export const DriverPinSchema = z
  .string()
  .regex(/^nvidia-driver-\d+(-server|-open)?=[0-9][A-Za-z0-9.+~:-]{0,63}$/, 'expected an apt pin such as nvidia-driver-550-server=550.127.08-0ubuntu1');

export const GpuDriverUpgradeInputSchema = z
  .object({
    node_id: NodeIdSchema,
    /** The driver package to install, pinned. */
    package: DriverPinSchema,
    /** What nvidia-smi must report after the reboot. */
    driver_version: z.string().regex(/^\d+\.\d+(\.\d+)?$/, 'a driver version such as 550.127.08'),
    /** dcgmi diag level the node must pass on the new driver before it serves again. */
    diag_level: z.number().int().min(1).max(3).default(2),
    drain_timeout: boundedDuration('30m', '1s', '24h'),
    approval_timeout: boundedDuration('30m', '1s', '24h'),
    reboot_timeout: boundedDuration('15m', '1s', '2h'),
    poll_interval: boundedDuration('5s', '20ms', '5m'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
  })
  .strict();
export type GpuDriverUpgradeRequest = z.input<typeof GpuDriverUpgradeInputSchema>;
export type GpuDriverUpgradeInput = z.output<typeof GpuDriverUpgradeInputSchema> & { correlation_id: string };

export const GPU_DRIVER_UPGRADE_OUTCOMES = [
  'upgraded',
  'already_current',
  'rolled_back',
  'refused',
  'drain_declined',
  'held_for_operator',
  ...PLAN_OUTCOMES,
  'cancelled',
  'failed',
] as const;

export interface DriverUpgradeRequestSignal {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const driverUpgradeRequestSignal = defineSignal<[DriverUpgradeRequestSignal]>('driverUpgradeRequest');

export function gpuDriverUpgradeWorkflowId(nodeId: string): string {
  return `gpu-driver-upgrade/${nodeId}`;
}

/** Every cordon this runbook makes says so; it uncordons only a node still cordoned for this reason. */
export const CORDON_PREFIX = 'gpu-driver-upgrade:';
