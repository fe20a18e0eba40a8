/**
 * The orchestrator's replica hosts over SSH, for leader recovery: the unit's
 * journal (the page's log patterns), whether a process still runs under a pid,
 * and a restart of the unit. Control hosts only: the host actions
 * read_orchestrator / manage_orchestrator refuse any other role before connecting.
 * `ctx.node_id` is the replica host.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import { journalFindings, type HolderProcess, type JournalFindings } from '../../domain/leader-recovery';
import type { StepContext } from '../../domain/step-context';
import type { EvidenceStore } from '../evidence/evidence-store';
import type { HostAccess } from '../host/host-access';
import { replicaCommands } from './commands';
import { isOrchestratorProcess, parseUnitJournal } from './parse-unit-journal';

export interface ReplicaRestart {
  node_id: string;
  /** false: an earlier attempt of this step already restarted it. */
  restarted: boolean;
  unit: string;
}

export function createReplicaHostActivities(deps: { hosts: HostAccess; evidence: EvidenceStore }) {
  const { hosts } = deps;
  const nodeOf = (ctx: StepContext) => ctx.node_id ?? '';

  async function unitState(ctx: StepContext, tag: string): Promise<string> {
    const res = await hosts.run(ctx, 'read_orchestrator', replicaCommands.unitActive(), { evidenceSuffix: `${tag}_unit` });
    return res.stdout.trim() || `unknown (exit ${res.exit_code})`;
  }

  return {
    /** The unit's journal since `sinceEpochS`, as counts of the page's patterns. */
    async readReplicaJournal(ctx: StepContext, sinceEpochS: number): Promise<JournalFindings> {
      const res = await hosts.run(ctx, 'read_orchestrator', replicaCommands.journal(sinceEpochS), { evidenceSuffix: 'journal' });
      if (res.exit_code !== 0) {
        throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `journalctl on ${nodeOf(ctx)}: ${res.stderr.trim()}`, nonRetryable: true });
      }
      return journalFindings(nodeOf(ctx), parseUnitJournal(res.stdout));
    },

    /** Whether an orchestrator process still runs under `pid` on the host (ps -p), and the unit's state. */
    async readReplicaProcess(ctx: StepContext, pid: number): Promise<HolderProcess> {
      const res = await hosts.run(ctx, 'read_orchestrator', replicaCommands.process(pid), { evidenceSuffix: 'ps' });
      // ps exits 1 with no output when nothing runs under the pid; anything else is not an answer.
      if (res.exit_code !== 0 && !(res.exit_code === 1 && res.stdout.trim() === '')) {
        throw ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `ps on ${nodeOf(ctx)}: ${res.stderr.trim()}`, nonRetryable: true });
      }
      return { node_id: nodeOf(ctx), pid, running: isOrchestratorProcess(res.stdout, pid), ps: res.stdout, unit: await unitState(ctx, 'ps') };
    },

    /**
     * systemctl restart gpu-orchestrator.service: a fresh process that competes for the
     * lock (the page's graceful takeover). Once per step: a retried attempt finds the
     * first one's record and does not restart it again.
     */
    async restartReplica(ctx: StepContext): Promise<ReplicaRestart> {
      const key = `${ctx.idempotency_key}/cmd/restart`;
      const earlier = await deps.evidence.findByKey<{ exit_code: number | null }>(key);
      if (earlier?.exit_code === 0) return { node_id: nodeOf(ctx), restarted: false, unit: await unitState(ctx, 'after') };
      const res = await hosts.run(ctx, 'manage_orchestrator', replicaCommands.restart(), { evidenceSuffix: 'restart' });
      if (res.exit_code !== 0) {
        throw ApplicationFailure.create({
          type: ErrorType.CommandFailed,
          message: `systemctl restart on ${nodeOf(ctx)}: ${res.stderr.trim().split('\n').pop() ?? `exit ${res.exit_code}`}`,
          nonRetryable: true,
        });
      }
      return { node_id: nodeOf(ctx), restarted: true, unit: await unitState(ctx, 'after') };
    },
  };
}

export type ReplicaHostActivities = ReturnType<typeof createReplicaHostActivities>;
