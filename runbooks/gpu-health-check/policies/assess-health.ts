import type { GpuTable } from '../../../domain/gpu-observations';

export interface HealthAssessment {
  healthy: boolean;
  /** One line per problem, GPU by GPU; empty when healthy. */
  problems: string[];
}

const isTrue = (c: unknown) => c === true;
const positive = (c: unknown) => typeof c === 'number' && c > 0;

/**
 * Is the node fit to take work now, from nvidia-smi alone: every GPU the
 * inventory lists visible, none lost, no uncorrected ECC error since the driver
 * loaded, no pending or failed row remap, nothing asking for a reset. Old Xid
 * lines do not decide it: a GPU reset clears their effect but not the log.
 */
export function assessGpuHealth(table: GpuTable, expectedGpus: number): HealthAssessment {
  const problems: string[] = [];
  if (table.node_error) problems.push(`nvidia-smi: ${table.node_error}`);
  if (table.gpus.length < expectedGpus) problems.push(`${table.gpus.length} of ${expectedGpus} GPUs visible`);
  for (const lost of table.lost_gpus) problems.push(`GPU ${lost} lost`);
  for (const g of table.gpus) {
    if (positive(g.ecc_uncorrected_volatile)) problems.push(`GPU ${g.index}: ${String(g.ecc_uncorrected_volatile)} uncorrected ECC error(s)`);
    if (isTrue(g.remapped_rows_pending)) problems.push(`GPU ${g.index}: row remap pending (applied at the next GPU reset)`);
    if (isTrue(g.remapped_rows_failure)) problems.push(`GPU ${g.index}: row remapping failed`);
    if (g.requires_reset) problems.push(`GPU ${g.index}: requires a reset`);
  }
  return { healthy: problems.length === 0, problems };
}
