/**
 * What the Temporal UI shows for a run before anyone opens it: a one-line static
 * summary (runbook, target, trigger) and static details (who asked, how to follow
 * it). Set once, at start, by whoever starts the run.
 */
export interface RunOrigin {
  runbook: string;
  runMode: string;
  nodeId?: string;
  /** What started it: "alert xid=48 from dcgm-exporter", "fleet run ...", "drill ...". */
  trigger: string;
  requestedBy?: string | null;
  correlationId?: string;
}

export function runUserMetadata(o: RunOrigin): { staticSummary: string; staticDetails: string } {
  const mode = o.runMode === 'live' ? '' : ` [${o.runMode}]`;
  return {
    staticSummary: `${o.runbook}${o.nodeId ? ` on ${o.nodeId}` : ''}${mode} · ${o.trigger}`,
    staticDetails: [
      `**Runbook** ${o.runbook}${mode}`,
      o.nodeId ? `**Target** ${o.nodeId}` : '',
      `**Trigger** ${o.trigger}`,
      `**Requested by** ${o.requestedBy ?? 'unknown'}`,
      o.correlationId ? `**Correlation id** ${o.correlationId}` : '',
      "Live progress: the **status** query, or the run's page in the approvals inbox (/ui/).",
    ]
      .filter(Boolean)
      .join('\n\n'),
  };
}

/** The trigger of a run started by an alert or an operator through the API. */
export function alertTrigger(input: Record<string, unknown>): string {
  const parts = [input.xid !== undefined ? `xid=${String(input.xid)}` : '', input.gpu_index !== undefined ? `gpu=${String(input.gpu_index)}` : ''].filter(
    Boolean,
  );
  return `${parts.length ? `alert ${parts.join(' ')}` : 'request'} from ${typeof input.source === 'string' ? input.source : 'api'}`;
}
