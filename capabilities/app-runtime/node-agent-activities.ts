import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { AgentJournalSign } from '../../domain/app-runtime-failures';
import type { StepContext } from '../../domain/step-context';
import type { HostAccess } from '../host/host-access';
import type { CommandResult } from '../host/ssh-executor';
import type { AppPlatformClient } from './app-platform-client';
import {
  AGENT_CERT,
  AGENT_ENV,
  AGENT_KEY,
  AGENT_UNIT,
  authorizedKeysPath,
  certEndDateCommand,
  HOSTS_FILE,
  moveAsideCommand,
  readFileCommand,
  resolveNameCommand,
  unitActiveCommand,
  unitJournalCommand,
  unitRestartCommand,
  writeFileCommand,
} from './commands';
import { latestAgentSign, type AgentJournalFinding } from './node-agent-journal';
import { resolvedAddress } from './parse-getent-hosts';
import { parseOpensslEndDate } from './parse-openssl-enddate';

export interface AgentState {
  running: boolean;
  resolvedTo: string | null;
  certNotAfter: string | null;
  journal: AgentJournalFinding | null;
}

const TOKEN_LINE = /^GPUAAS_ENROLLMENT_TOKEN=.*$/m;

/** The env file as evidence may show it: the token's value never leaves the host. */
export function redactEnv(text: string): string {
  return text.replace(/^(GPUAAS_ENROLLMENT_TOKEN=).*$/gm, '$1[redacted]');
}

/** /etc/hosts with `name` mapped to `address` only: other lines kept, stale mappings of the name dropped. */
export function withHostsEntry(hosts: string, name: string, address: string): string {
  const kept = hosts
    .split('\n')
    .filter((line) => !line.replace(/#.*$/, '').trim().split(/\s+/).slice(1).includes(name))
    .join('\n')
    .replace(/\n*$/, '\n');
  return `${kept}${address} ${name}\n`;
}

/**
 * The node-agent of a worker, on that worker only (`ctx.node_id`; the host actions refuse
 * any other role before connecting). Each repair reads before it writes, so a retried
 * attempt finds its own work done and does not do it twice.
 */
export function createNodeAgentActivities(deps: { hosts: HostAccess; appPlatform: AppPlatformClient }) {
  const { hosts, appPlatform } = deps;

  async function readState(ctx: StepContext, nodeApiName: string, tag: string): Promise<AgentState> {
    const active = await hosts.run(ctx, 'read_node_agent', unitActiveCommand(AGENT_UNIT), { evidenceSuffix: `${tag}_active` });
    const resolved = await hosts.run(ctx, 'read_node_agent', resolveNameCommand(nodeApiName), { evidenceSuffix: `${tag}_getent` });
    const cert = await hosts.run(ctx, 'read_node_agent', certEndDateCommand(), { evidenceSuffix: `${tag}_cert` });
    const journal = await hosts.run(ctx, 'read_node_agent', unitJournalCommand(AGENT_UNIT), { evidenceSuffix: `${tag}_journal` });
    return {
      running: active.stdout.trim() === 'active',
      resolvedTo: resolvedAddress(resolved.stdout, resolved.exit_code ?? 1, nodeApiName),
      certNotAfter: cert.exit_code === 0 ? (parseOpensslEndDate(cert.stdout)?.toISOString() ?? null) : null,
      journal: latestAgentSign(journal.stdout),
    };
  }

  function mustSucceed(res: CommandResult, what: string): void {
    if (res.exit_code !== 0) {
      throw ApplicationFailure.create({
        type: ErrorType.CommandFailed,
        message: `${what}: ${res.stderr.trim().split('\n').pop() ?? `exit ${res.exit_code}`}`,
        nonRetryable: true,
      });
    }
  }

  async function restart(ctx: StepContext): Promise<void> {
    mustSucceed(await hosts.run(ctx, 'repair_node_agent', unitRestartCommand(AGENT_UNIT), { evidenceSuffix: 'restart' }), `restarting ${AGENT_UNIT}`);
  }

  return {
    async readAgentState(ctx: StepContext, nodeApiName: string): Promise<AgentState> {
      return readState(ctx, nodeApiName, 'agent');
    },

    /** The allocation user's authorized_keys, line by line (empty when the file does not exist yet). */
    async readAuthorizedKeys(ctx: StepContext, user: string): Promise<string[]> {
      if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw ApplicationFailure.nonRetryable(`not a Linux login: ${JSON.stringify(user)}`, ErrorType.InvalidInput);
      const res = await hosts.run(ctx, 'read_allocation_keys', readFileCommand(authorizedKeysPath(user)), { evidenceSuffix: 'authorized_keys' });
      if (res.exit_code !== 0 && /No such file/.test(res.stderr)) return [];
      mustSucceed(res, `reading ${authorizedKeysPath(user)}`);
      return res.stdout.split('\n').filter((l) => l.trim() !== '');
    },

    /** Restarts the agent (a stopped one starts): what a stuck queue of its node tasks needs first. */
    async restartAgent(ctx: StepContext): Promise<void> {
      await restart(ctx);
    },

    /** Maps the node API name to the control-plane address in /etc/hosts (seed 001, recovery A). */
    async restoreNodeApiMapping(ctx: StepContext, name: string, address: string): Promise<{ changed: boolean }> {
      // Refused as the repair it is, before its first read.
      const host = hosts.authorize(ctx, 'repair_node_agent');
      const current = await host.run('read_node_agent', readFileCommand(HOSTS_FILE), { evidenceSuffix: 'hosts_before' });
      mustSucceed(current, `reading ${HOSTS_FILE}`);
      const next = withHostsEntry(current.stdout, name, address);
      if (next === current.stdout) return { changed: false };
      mustSucceed(
        await host.run('repair_node_agent', writeFileCommand(HOSTS_FILE, '0644'), { stdin: next, evidenceSuffix: 'hosts_write' }),
        `writing ${HOSTS_FILE}`,
      );
      await restart(ctx);
      return { changed: true };
    },

    /** Moves the expired certificate and its key aside and restarts the agent, which enrolls again (recovery B.1). */
    async rotateAgentCertificate(ctx: StepContext, tag: string): Promise<{ moved: string[] }> {
      const moved: string[] = [];
      for (const [i, path] of [AGENT_CERT, AGENT_KEY].entries()) {
        const res = await hosts.run(ctx, 'repair_node_agent', moveAsideCommand(path, tag), { evidenceSuffix: `move_aside_${i}` });
        // Gone already: an earlier attempt of this step moved it.
        if (res.exit_code === 0) moved.push(path);
        else if (!/No such file/.test(res.stderr)) mustSucceed(res, `moving ${path} aside`);
      }
      await restart(ctx);
      return { moved };
    },

    /**
     * Mints a fresh enrollment token and writes it into the agent's env file, then restarts
     * the agent (recovery B.2-4). The token travels platform → this activity → the host's
     * stdin: never in a result, an argv, a log line or the evidence.
     */
    async reenrollAgent(ctx: StepContext): Promise<{ expires_at: string }> {
      const nodeId = ctx.node_id!;
      // Refused as the repair it is before anything, the enrollment token above all: none is minted for a host that may not use it.
      const host = hosts.authorize(ctx, 'repair_node_agent');
      const env = await host.run('read_node_agent', readFileCommand(AGENT_ENV), { evidenceSuffix: 'env_before', record: false });
      mustSucceed(env, `reading ${AGENT_ENV}`);
      await host.record(`${ctx.idempotency_key}/cmd/env_before`, { ...env, stdout: redactEnv(env.stdout) });
      const minted = await appPlatform.mintEnrollmentToken(nodeId, `${ctx.idempotency_key}/enrollment-token`);
      const line = `GPUAAS_ENROLLMENT_TOKEN=${minted.token}`;
      const next = TOKEN_LINE.test(env.stdout) ? env.stdout.replace(TOKEN_LINE, line) : `${env.stdout.replace(/\n*$/, '\n')}${line}\n`;
      mustSucceed(
        await host.run('repair_node_agent', writeFileCommand(AGENT_ENV, '0600'), { stdin: next, evidenceSuffix: 'env_write' }),
        `writing ${AGENT_ENV}`,
      );
      await restart(ctx);
      return { expires_at: minted.expires_at };
    },

    /** Waits for the agent's journal to show one of `signs` (e.g. `node certificate enrolled`), heartbeating. */
    async waitForAgentSign(ctx: StepContext, signs: AgentJournalSign[], timeoutMs: number, pollMs: number): Promise<AgentJournalFinding | null> {
      const host = hosts.authorize(ctx, 'read_node_agent');
      const deadline = Date.now() + timeoutMs;
      let latest: AgentJournalFinding | null = null;
      for (let poll = 1; ; poll++) {
        const journal = await host.run('read_node_agent', unitJournalCommand(AGENT_UNIT), { evidenceSuffix: `journal_${poll}`, record: false });
        latest = latestAgentSign(journal.stdout);
        heartbeat({ poll, sign: latest?.sign });
        if ((latest && signs.includes(latest.sign)) || Date.now() >= deadline) {
          await host.record(`${ctx.idempotency_key}/cmd/journal`, journal);
          return latest;
        }
        await sleep(pollMs);
      }
    },
  };
}

export type NodeAgentActivities = ReturnType<typeof createNodeAgentActivities>;
