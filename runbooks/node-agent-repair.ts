import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { AppPlatformActivities } from '../capabilities/app-runtime/app-platform-activities';
import type { AgentState, NodeAgentActivities } from '../capabilities/app-runtime/node-agent-activities';
import { diagnoseAgent, type AgentJournalSign, type FailureFinding } from '../domain/app-runtime-failures';
import { ActivityOptionSets } from '../engine/activity-options';
import type { RunbookRun } from '../engine/runner';

/** What the node-agent steps need to know; both platform-app runbooks take these inputs. */
export interface AgentRepairSettings {
  project_id: string;
  app_instance_id: string;
  node_api_name: string;
  control_plane_address: string;
  converge_timeout: number;
  poll_interval: number;
}

const reads = {
  agent: proxyActivities<NodeAgentActivities>(ActivityOptionSets.hostRead),
  platform: proxyActivities<AppPlatformActivities>(ActivityOptionSets.platformCall),
};

/**
 * The node-agent side of seed 001, shared by app-instance-deploy and
 * bootstrap-ssh-reconcile: read the agent on the run's target worker, repair it for
 * failure modes 3–5 (the worker's own service; nothing moves onto a control host),
 * and run a bootstrap SSH reconcile through it. Steps run on the run's target node.
 */
export class NodeAgentRepair {
  private readonly waits: { agent: NodeAgentActivities; platform: AppPlatformActivities };

  constructor(
    private readonly run: RunbookRun,
    private readonly settings: AgentRepairSettings,
  ) {
    const options = ActivityOptionSets.boundedWait(settings.converge_timeout, settings.poll_interval);
    this.waits = { agent: proxyActivities<NodeAgentActivities>(options), platform: proxyActivities<AppPlatformActivities>(options) };
  }

  readAgent(): Promise<AgentState> {
    const name = this.settings.node_api_name;
    return this.run.step('read_node_agent_state', (ctx) => reads.agent.readAgentState(ctx, name), {
      describe: (a) =>
        `${a.running ? 'active' : 'not active'}; ${name} → ${a.resolvedTo ?? 'nothing'}; cert until ${a.certNotAfter ?? 'none'}; journal: ${a.journal?.sign ?? 'quiet'}`,
    });
  }

  async queuedTasks(nodeId: string): Promise<number> {
    const queued = await this.run.step('read_queued_bootstrap_tasks', (ctx) => reads.platform.queuedReconcileTasks(ctx, nodeId), {
      describe: (t) => `${t.length} queued`,
    });
    return queued.length;
  }

  /**
   * Reads the agent (and, given a node, its queued bootstrap tasks) and records which
   * node-agent failure modes hold (step `diagnose_node_agent`).
   */
  async diagnose(queuedTasksOf?: string): Promise<FailureFinding[]> {
    const { run, settings } = this;
    const agent = await this.readAgent();
    const queued = queuedTasksOf ? await this.queuedTasks(queuedTasksOf) : 0;
    const observed = { ...agent, nodeApiName: settings.node_api_name, controlPlaneAddress: settings.control_plane_address };
    const findings = diagnoseAgent(observed, queued, new Date().toISOString());
    await run.step(
      'diagnose_node_agent',
      (ctx) => run.evidence(ctx, 'classification', findings.map((f) => f.mode).join(', ') || 'no node-agent failure mode holds', { findings }),
      { describe: () => findings.map((f) => f.mode).join(', ') || 'none holds' },
    );
    return findings;
  }

  /** Applies the node-agent fix of a finding (modes 3–5, and a stopped agent for 6), then waits for its journal to answer. */
  async repair(f: FailureFinding, step: string): Promise<void> {
    const { run, settings } = this;
    switch (f.fix) {
      case 'restore_node_api_mapping':
        await run.step(step, (ctx) => reads.agent.restoreNodeApiMapping(ctx, settings.node_api_name, settings.control_plane_address), {
          describe: (r) => (r.changed ? `${settings.node_api_name} → ${settings.control_plane_address} in /etc/hosts; agent restarted` : 'already mapped'),
        });
        return this.waitForAgent('wait_for_node_agent', ['connected', 'enrolled', 'cert_expired', 'token_invalid']);
      case 'rotate_agent_certificate':
        await run.step(step, (ctx) => reads.agent.rotateAgentCertificate(ctx, workflowInfo().runId.slice(0, 8)), {
          describe: (r) => `moved aside: ${r.moved.join(', ') || 'nothing (already done)'}; agent restarted`,
        });
        return this.waitForAgent('wait_for_node_agent', ['connected', 'enrolled', 'token_invalid']);
      case 'reenroll_agent':
        await run.step(step, (ctx) => reads.agent.reenrollAgent(ctx), {
          describe: (r) => `fresh enrollment token (expires ${r.expires_at}) written; agent restarted`,
        });
        return this.waitForAgent('confirm_enrollment', ['enrolled', 'connected', 'token_invalid']);
      case 'reconcile_bootstrap_ssh': {
        const agent = await this.readAgent();
        if (!agent.running) {
          await run.step('restart_node_agent', (ctx) => reads.agent.restartAgent(ctx));
          await this.waitForAgent('wait_for_node_agent', ['connected', 'enrolled', 'cert_expired', 'token_invalid']);
        }
        return;
      }
      default:
        throw new Error(`${f.fix} is not a node-agent fix`);
    }
  }

  /** Requests a bootstrap SSH reconcile and follows its node task; returns how the task ended. */
  async reconcile(step: string): Promise<'queued' | 'dispatched' | 'completed' | 'failed'> {
    const { run, settings } = this;
    const requested = await run.step(step, (ctx) => reads.platform.requestBootstrapReconcile(ctx, settings.project_id, settings.app_instance_id), {
      describe: (r) => `node task ${r.node_task_id} on ${r.node_id}`,
    });
    const task = await run.step(
      `${step}_task`,
      (ctx) => this.waits.platform.waitForNodeTask(ctx, requested.node_task_id, settings.converge_timeout, settings.poll_interval),
      { describe: (t) => `${t.id} ${t.state}${t.error ? `: ${t.error}` : ''}` },
    );
    return task.state;
  }

  /** Follows the agent's journal after a repair until it says one of `signs`. */
  private async waitForAgent(step: string, signs: AgentJournalSign[]): Promise<void> {
    const { settings } = this;
    await this.run.step(step, (ctx) => this.waits.agent.waitForAgentSign(ctx, signs, settings.converge_timeout, settings.poll_interval), {
      describe: (s) => (s ? `journal: ${s.line}` : 'the journal said nothing new'),
    });
  }
}
