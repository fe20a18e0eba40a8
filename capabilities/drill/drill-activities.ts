import { heartbeat, sleep } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Pool } from 'pg';
import type { DrillReport, DrillScenario } from '../../domain/drills';
import { ErrorType } from '../../domain/errors';
import { approvalSignal, approvalUpdate, statusQuery } from '../../domain/messages';
import { pgSafeJson } from '../../domain/pg-safe-json';

export interface DrillDeps {
  temporal: Client;
  pool: Pool;
  /** Where faults are injected: the lab's admin API, or a staging fleet's hook. Unset: drills cannot inject. */
  faultInjectionUrl?: string;
  faultInjectionToken?: string;
}

/** How long a fault-injection hook may take to answer when the scenario does not say. */
export const DEFAULT_FAULT_ANSWER_MS = 15_000;
const FAULT_HEARTBEAT_MS = 2_000;

/** What a drill does besides running the runbook: inject the fault, answer approvals, keep the report. */
export function createDrillActivities(deps: DrillDeps) {
  return {
    async injectDrillFault(nodeId: string, fault: NonNullable<DrillScenario['fault']>, idempotencyKey: string): Promise<void> {
      if (!deps.faultInjectionUrl) {
        throw ApplicationFailure.create({
          type: ErrorType.InvalidInput,
          message: 'no fault-injection endpoint configured (DRILL_FAULT_URL)',
          nonRetryable: true,
        });
      }
      const url = `${deps.faultInjectionUrl}${fault.path.replace('{node}', encodeURIComponent(nodeId))}`;
      // A hook that waits for its fault to take hold answers late: the activity says it is alive meanwhile.
      const beating = setInterval(() => heartbeat({ url }), FAULT_HEARTBEAT_MS);
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': idempotencyKey,
          ...(deps.faultInjectionToken ? { authorization: `Bearer ${deps.faultInjectionToken}` } : {}),
        },
        body: JSON.stringify(fault.body),
        signal: AbortSignal.timeout(fault.answer_within_ms ?? DEFAULT_FAULT_ANSWER_MS),
      }).finally(() => clearInterval(beating));
      if (!res.ok) {
        const text = (await res.text()).slice(0, 300);
        throw ApplicationFailure.create({ type: 'FaultInjectionFailed', message: `${url}: ${res.status} ${text}`, nonRetryable: res.status < 500 });
      }
    },

    /**
     * Answers the drilled run's approvals as the drill says, as `actor`, until
     * the run closes. An approval the drill has no answer for is left to time out.
     */
    async answerDrillApprovals(
      workflowId: string,
      runId: string,
      answers: Record<string, 'approve' | 'reject'>,
      actor: string,
      pollMs: number,
    ): Promise<string[]> {
      const handle = deps.temporal.workflow.getHandle(workflowId, runId);
      const answered: string[] = [];
      for (;;) {
        heartbeat({ answered });
        let running: boolean;
        try {
          running = (await handle.describe()).status.name === 'RUNNING';
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) return answered;
          throw err;
        }
        if (!running) return answered;
        const pending = (await handle.query(statusQuery)).pending_approval;
        const decision = pending ? answers[pending.step] : undefined;
        if (pending && decision && !answered.includes(pending.id)) {
          // The drill is the run's requester; a drill run lets exactly that actor answer (domain/approvals.ts).
          const answer = { decision, actor, reason: `drill answers ${decision}`, approval_id: pending.id, shown_hash: pending.shown_hash };
          try {
            await handle.executeUpdate(approvalUpdate, { args: [answer], updateId: `${pending.id}/${actor}` });
          } catch (err) {
            // Refused (the run moved on, or predates the rules): the drill's outcome shows what happened.
            if (!(err instanceof WorkflowUpdateFailedError)) throw err;
            if (pending.legacy) await handle.signal(approvalSignal, answer);
          }
          answered.push(pending.id);
        }
        await sleep(pollMs);
      }
    },

    async recordDrillReport(workflowId: string, runId: string, r: DrillReport): Promise<void> {
      await deps.pool.query(
        `INSERT INTO drill_reports (drill_id, workflow_id, run_id, runbook, scenario, node_id, expected, outcome, passed,
                                    time_to_detect_ms, time_to_recover_ms, report, started_at, ended_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (workflow_id, run_id) DO NOTHING`,
        [
          r.drill_id,
          workflowId,
          runId,
          r.runbook,
          r.scenario,
          r.node_id,
          r.expected,
          r.outcome,
          r.passed,
          r.time_to_detect_ms,
          r.time_to_recover_ms,
          pgSafeJson(r.run ?? null),
          r.started_at,
          r.ended_at,
        ],
      );
    },
  };
}

export type DrillActivities = ReturnType<typeof createDrillActivities>;
