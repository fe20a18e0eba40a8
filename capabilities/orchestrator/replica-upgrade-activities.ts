import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { ErrorType } from '../../domain/errors';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import { OrchestratorVersionSchema } from '../../domain/orchestrator-upgrade';
import type { StepContext } from '../../domain/step-context';
import type { HostAccess } from '../host/host-access';
import { stepLogger } from '../observability';
import { clusterNamed } from './orchestrator-activities';
import { OrchestratorApi, type ReplicaHealth } from './orchestrator-api';
import { installOrchestratorCommand, orchestratorVersionCommand, parseOrchestratorVersion, replicaCommands } from './commands';

export interface ReplicaInstall {
  node_id: string;
  /** What `gpu-orchestrator --version` says is installed; null when it cannot tell. */
  version: string | null;
  /** gpu-orchestrator.service is active. */
  active: boolean;
}

export interface InstallResult extends ReplicaInstall {
  previous_version: string | null;
  /** False when the version was already installed and running: nothing was done. */
  changed: boolean;
}

export interface ReplicaServing {
  serving: boolean;
  /** The replica's own /health at the last poll (null: it did not answer). */
  health: ReplicaHealth | null;
  /** The replica that leads at the last poll (GET /status/leader), if any. */
  leader: { node_id: string; version: string } | null;
  waited_ms: number;
}

/**
 * The orchestrator's package on its replica hosts (ctx.node_id), over SSH: the
 * installed version, and the fleet's package step, which installs a release and
 * restarts the unit. The host actions refuse any host that is not a control host
 * before connecting.
 */
export function createReplicaUpgradeActivities(deps: { hosts: HostAccess; clusters: readonly OrchestratorCluster[]; logger: Logger }) {
  const { hosts } = deps;

  async function read(ctx: StepContext, tag: string): Promise<ReplicaInstall> {
    const v = await hosts.run(ctx, 'read_orchestrator', orchestratorVersionCommand(), { evidenceSuffix: `${tag}_version` });
    const a = await hosts.run(ctx, 'read_orchestrator', replicaCommands.unitActive(), { evidenceSuffix: `${tag}_active` });
    return { node_id: ctx.node_id ?? '', version: v.exit_code === 0 ? parseOrchestratorVersion(v.stdout) : null, active: a.stdout.trim() === 'active' };
  }

  return {
    async readReplicaVersion(ctx: StepContext): Promise<ReplicaInstall> {
      return read(ctx, 'replica');
    },

    /**
     * Installs `version` with the package step (which restarts the unit), unless it is
     * installed and running already: a retried attempt, or a replica that was never
     * upgraded, changes nothing. A failed package step is InstallFailed, not retried:
     * the runbook decides (it rolls back). Heartbeats while the step runs.
     */
    async installReplicaVersion(ctx: StepContext, version: string, timeoutMs: number): Promise<InstallResult> {
      if (!OrchestratorVersionSchema.safeParse(version).success) {
        throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: `not a release version: ${JSON.stringify(version)}`, nonRetryable: true });
      }
      const before = await read(ctx, 'before');
      if (before.version === version && before.active) return { ...before, previous_version: before.version, changed: false };
      const beat = setInterval(() => heartbeat({ installing: version }), 1_000);
      let res;
      try {
        res = await hosts.run(ctx, 'manage_orchestrator', installOrchestratorCommand(version), { evidenceSuffix: 'install', timeoutMs });
      } finally {
        clearInterval(beat);
      }
      const log = stepLogger(deps.logger, ctx);
      if (res.exit_code !== 0) {
        const why = res.stderr.trim().split('\n').pop() || `exit ${res.exit_code ?? 'disconnected'}`;
        log.warn({ version, exit_code: res.exit_code, why }, 'orchestrator package step failed');
        throw ApplicationFailure.create({
          type: ErrorType.InstallFailed,
          message: `installing gpu-orchestrator ${version} on ${ctx.host_name ?? ctx.node_id}: ${why}`,
          nonRetryable: true,
          details: [{ node_id: ctx.node_id, version, previous_version: before.version, exit_code: res.exit_code }],
        });
      }
      const after = await read(ctx, 'after');
      log.info({ version, previous_version: before.version }, 'orchestrator version installed');
      return { ...after, previous_version: before.version, changed: true };
    },

    /**
     * Until the replica on `nodeId` answers /health ok with `version`, and some replica
     * leads (GET /status/leader), or the timeout. Heartbeats every poll.
     */
    async waitReplicaServing(
      _ctx: StepContext,
      cluster: string | undefined,
      nodeId: string,
      version: string,
      timeoutMs: number,
      pollMs: number,
    ): Promise<ReplicaServing> {
      const orch = new OrchestratorApi(clusterNamed(deps.clusters, cluster));
      const started = Date.now();
      for (;;) {
        const health = await orch.health(nodeId);
        const status = await orch.leaderStatus().catch(() => null);
        const leader = status?.leader ? { node_id: status.leader.node_id, version: status.leader.version } : null;
        const serving = health !== null && health.status === 'ok' && health.version === version && leader !== null;
        const waited = Date.now() - started;
        heartbeat({ node_id: nodeId, waited_ms: waited });
        if (serving || waited >= timeoutMs) return { serving, health, leader, waited_ms: waited };
        await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)));
      }
    },
  };
}

export type ReplicaUpgradeActivities = ReturnType<typeof createReplicaUpgradeActivities>;
