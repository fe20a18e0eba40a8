import { createHash } from 'node:crypto';
import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import { minApprovalsFor, type ApprovalKind, type ApprovalRefusal } from '../../domain/approvals';
import { canonicalJson } from '../../domain/canonical-json';
import type { KnownPrincipals } from '../../domain/principals';
import type { StepContext } from '../../domain/step-context';

/** How this worker's runs treat approvals (config: APPROVAL_SIGNALS, MIN_APPROVALS, ESCALATION_WEBHOOKS). */
export interface ApprovalSettings {
  /** Whether decisions sent as signals (Temporal UI, CLI) count at all; the API's update path is not affected. */
  signals: boolean;
  /** Whom a signal's actor is checked against (the API's tokens file); unset: every signal is refused. */
  principals?: KnownPrincipals;
  /** `<kind>` or `<runbook>/<kind>` → distinct approvers needed. */
  minApprovals: Record<string, number>;
  /** Escalation group → webhook URL. */
  escalationWebhooks: Record<string, string>;
}

export interface ApprovalShown {
  kind: ApprovalKind;
  question: string;
  context: Record<string, unknown>;
  plan_hash?: string;
  disruption?: string;
}

export interface EscalationNotice {
  group: string;
  workflow_id: string;
  runbook: string;
  approval_id: string;
  question: string;
  requested_at: string;
  timeout_at: string;
  progress: string;
}

const ESCALATION_TIMEOUT_MS = 10_000;

export function createApprovalActivities(settings: ApprovalSettings) {
  return {
    /** The approval's minimum for this runbook and kind, and the hash of what its approvers are shown. */
    async prepareApproval(ctx: StepContext, shown: ApprovalShown, drill: boolean): Promise<{ min_approvals: number; shown_hash: string }> {
      const min_approvals = minApprovalsFor(settings.minApprovals, ctx.runbook, shown.kind, drill);
      const shown_hash = createHash('sha256')
        .update(canonicalJson({ ...shown, min_approvals }))
        .digest('hex');
      return { min_approvals, shown_hash };
    },

    /**
     * A signal's actor is whatever its sender typed: it counts only when signals are
     * on and the actor is a known principal allowed to approve.
     */
    async checkSignalApprover(_ctx: StepContext, actor: string): Promise<ApprovalRefusal | null> {
      if (!settings.signals)
        return { code: 'signals_disabled', message: 'approval signals are turned off on this worker (APPROVAL_SIGNALS=off); decide through the API' };
      const roles = settings.principals?.rolesOf(actor);
      if (!roles || !(roles.includes('approver') || roles.includes('admin')))
        return { code: 'unknown_approver', message: `${actor} is not a known principal with the approver role` };
      return null;
    },

    /** Tells the escalation group's webhook that an approval is still waiting. */
    async notifyApprovalEscalation(ctx: StepContext, notice: EscalationNotice): Promise<void> {
      const url = settings.escalationWebhooks[notice.group];
      if (!url)
        throw ApplicationFailure.nonRetryable(`no webhook is configured for escalation group ${notice.group} (ESCALATION_WEBHOOKS)`, 'EscalationNotConfigured');
      heartbeat();
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotency_key },
        body: JSON.stringify({ event: 'approval_escalated', correlation_id: ctx.correlation_id, ...notice }),
        signal: AbortSignal.timeout(ESCALATION_TIMEOUT_MS),
      });
      if (res.ok) return;
      const message = `escalation webhook for ${notice.group} answered ${res.status}`;
      // A 4xx will not change on retry (except 429); a 5xx may.
      if (res.status >= 400 && res.status < 500 && res.status !== 429) throw ApplicationFailure.nonRetryable(message, 'EscalationRefused');
      throw new Error(message);
    },
  };
}

export type ApprovalActivities = ReturnType<typeof createApprovalActivities>;
