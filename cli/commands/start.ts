import fs from 'node:fs';
import { Command, Option } from 'commander';
import type { StartAnswer } from '../api-types';
import { contextOf } from '../context';
import { UsageError } from '../errors';
import { collect, parseAssignment, parseDuration } from '../option-parsers';
import { watchRun } from './runs';

interface StartOptions {
  node: string;
  set: string[];
  inputFile?: string;
  planHash?: string;
  mode?: string;
  watch?: boolean;
  interval: number;
}

export function startCommand(): Command {
  return new Command('start')
    .description("start a runbook run on a node, or join the node's open run (POST /api/v1/runbooks/{runbook}/runs)")
    .argument('<runbook>', 'e.g. gpu-fault-remediation, gpu-health-check')
    .requiredOption('--node <id>', 'the node the run acts on (node_id)')
    .option('--set <key=value>', 'an input field, repeatable (--set xid=48 --set gpu_index=3 --set drain_timeout=5m)', collect, [])
    .option('--input-file <file>', 'input fields from a JSON object; --set and --node override it')
    .option('--plan-hash <hash>', 'follow this plan: refused if the run would now do something else')
    .addOption(new Option('--mode <mode>', 'run mode').choices(['live', 'plan', 'drill']))
    .option('--watch', 'then watch the run until it closes (exit codes as runs watch)')
    .option('--interval <duration>', 'with --watch: time between reads', parseDuration, 2000)
    .addHelpText('after', '\nExample:\n  gpuaas-runbooks start gpu-fault-remediation --node dev-gpu-1 --set xid=48 --set gpu_index=3')
    .action(async (runbook: string, opts: StartOptions, cmd: Command) => {
      const body = { ...readInputFile(opts.inputFile), ...Object.fromEntries(opts.set.map(parseAssignment)), node_id: opts.node } as Record<string, unknown>;
      if (opts.planHash) body['plan_hash'] = opts.planHash;
      if (opts.mode) body['run_mode'] = opts.mode;
      const { api, out } = contextOf(cmd);
      const { status, body: started } = await api.post<StartAnswer>(`/api/v1/runbooks/${encodeURIComponent(runbook)}/runs`, body);
      if (out.json) out.printJson(started);
      else if (status === 201) out.line(`started ${started.workflow_id} (run ${started.run_id}${started.run_mode === 'plan' ? ', plan mode' : ''})`);
      else out.line(`joined the open run ${started.workflow_id} (run ${started.run_id}): alert ${started.alert ?? 'delivered'}`);
      if (!out.json && started.plan_hash)
        out.line(`plan ${started.plan_hash}: ${started.plan_followed ? 'followed' : 'not followed (the open run keeps its own)'}`);
      if (opts.watch) await watchRun(api, out, started.workflow_id, opts.interval);
      else out.note(`see it with: gpuaas-runbooks runs show ${started.workflow_id}`);
    });
}

function readInputFile(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read --input-file ${file}: ${(err as Error).message}`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError(`--input-file ${file} must hold a JSON object`);
  return parsed as Record<string, unknown>;
}
