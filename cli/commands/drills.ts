import { Command } from 'commander';
import type { Drill, DrillReport } from '../api-types';
import { contextOf } from '../context';
import { UsageError } from '../errors';
import { collect, parseAssignment } from '../option-parsers';
import { time, type Output } from '../output';

const drillPath = (id: string) => `/api/v1/drills/${encodeURIComponent(id)}`;

interface CreateOptions {
  runbook: string;
  scenario: string;
  node: string;
  cron: string[];
  every?: string;
  catchupWindow?: string;
  paused?: boolean;
  set: string[];
}

/** Drills: scheduled rehearsals of a runbook scenario against a drillable node. */
export function drillsCommand(): Command {
  const drills = new Command('drills').description('scheduled drills and their reports (/api/v1/drills)');

  drills
    .command('ls', { isDefault: true })
    .description('list drills')
    .action(async (_opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const answer = await api.get<{ drills: Drill[] }>('/api/v1/drills');
      if (out.json) return out.printJson(answer);
      out.table(answer.drills, [
        { header: 'ID', value: (d) => d.id },
        { header: 'RUNBOOK', value: (d) => d.runbook },
        { header: 'SCENARIO', value: (d) => d.scenario },
        { header: 'NODE', value: (d) => d.node_id },
        { header: 'SCHEDULE', value: (d) => scheduleText(d) },
        { header: 'PAUSED', value: (d) => (d.paused ? 'yes' : 'no') },
        { header: 'NEXT RUN', value: (d) => time(d.next_runs[0]) },
        { header: 'LAST RUN', value: (d) => time(d.recent_runs.at(-1)?.at) },
      ]);
    });

  drills
    .command('show')
    .description('one drill: schedule, next runs, recent runs')
    .argument('<id>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const drill = await api.get<Drill>(drillPath(id));
      if (out.json) return out.printJson(drill);
      printDrill(out, drill);
    });

  drills
    .command('create')
    .description('schedule a drill (admin)')
    .argument('<id>', 'lowercase letters, digits and "-"')
    .requiredOption('--runbook <name>', 'the runbook to drill')
    .requiredOption('--scenario <name>', "one of the runbook's drill scenarios")
    .requiredOption('--node <id>', 'a drillable node')
    .option('--cron <expression>', 'when it runs, repeatable (UTC cron)', collect, [])
    .option('--every <duration>', 'or: how often it runs (e.g. 24h)')
    .option('--catchup-window <duration>', 'how late a missed run may still start (default 10m)')
    .option('--paused', 'create it paused')
    .option(
      '--set <key=value>',
      "this drill's value for an input of the scenario, repeatable; instants relative to each run as {now}, {now+2h}, {now-10m} (--set cluster=staging --set db_backup_at={now-6h})",
      collect,
      [],
    )
    .addHelpText(
      'after',
      '\nExample:\n  gpuaas-runbooks drills create nightly-xid --runbook gpu-fault-remediation --scenario transient-xid --node dev-gpu-3 --every 24h',
    )
    .action(async (id: string, opts: CreateOptions, cmd: Command) => {
      if (opts.cron.length > 0 === (opts.every !== undefined)) throw new UsageError('give --cron or --every (not both)');
      const { api, out } = contextOf(cmd);
      const { body } = await api.post<Drill>('/api/v1/drills', {
        id,
        runbook: opts.runbook,
        scenario: opts.scenario,
        node_id: opts.node,
        ...(opts.cron.length ? { cron: opts.cron } : { every: opts.every }),
        ...(opts.catchupWindow ? { catchup_window: opts.catchupWindow } : {}),
        ...(opts.paused ? { paused: true } : {}),
        ...(opts.set.length ? { input: Object.fromEntries(opts.set.map(parseAssignment)) } : {}),
      });
      if (out.json) return out.printJson(body);
      out.line(`drill ${body.id} created`);
      printDrill(out, body);
    });

  for (const [action, what] of [
    ['pause', 'stop scheduling it'],
    ['unpause', 'schedule it again'],
    ['trigger', 'run it now (skipped while one runs)'],
  ] as const) {
    drills
      .command(action)
      .description(`${what} (admin)`)
      .argument('<id>')
      .action(async (id: string, _opts: unknown, cmd: Command) => {
        const { api, out } = contextOf(cmd);
        const { body } = await api.post<Record<string, unknown>>(`${drillPath(id)}/${action}`);
        if (out.json) return out.printJson(body);
        out.line(`drill ${id}: ${action === 'trigger' ? 'triggered' : action === 'pause' ? 'paused' : 'unpaused'}`);
      });
  }

  drills
    .command('delete')
    .description('delete a drill (admin); its reports stay')
    .argument('<id>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      await api.delete(drillPath(id));
      if (out.json) return out.printJson({ id, deleted: true });
      out.line(`drill ${id} deleted`);
    });

  drills
    .command('reports')
    .description("a drill's reports, newest first")
    .argument('<id>')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const answer = await api.get<{ drill_id: string; reports: DrillReport[] }>(`${drillPath(id)}/reports`);
      if (out.json) return out.printJson(answer);
      out.table(answer.reports, [
        { header: 'ENDED', value: (r) => time(r.ended_at) },
        { header: 'SCENARIO', value: (r) => r.scenario },
        { header: 'NODE', value: (r) => r.node_id },
        { header: 'RESULT', value: (r) => (r.passed ? 'pass' : 'FAIL') },
        { header: 'EXPECTED', value: (r) => r.expected },
        { header: 'OUTCOME', value: (r) => r.outcome },
        { header: 'DETECT', value: (r) => seconds(r.time_to_detect_ms) },
        { header: 'RECOVER', value: (r) => seconds(r.time_to_recover_ms) },
        { header: 'WORKFLOW ID', value: (r) => r.workflow_id },
      ]);
    });

  return drills;
}

function scheduleText(d: Drill): string | undefined {
  if (d.schedule?.cron) return `cron ${d.schedule.cron.join('; ')}`;
  if (d.schedule?.every_ms) return `every ${seconds(d.schedule.every_ms)}`;
  return undefined;
}

function seconds(ms: number | null | undefined): string | undefined {
  if (ms === null || ms === undefined) return undefined;
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${Number((ms / 1000).toFixed(1))}s`;
}

function printDrill(out: Output, d: Drill): void {
  out.keyValues([
    ['id', d.id],
    ['runbook', d.runbook],
    ['scenario', d.scenario],
    ['expects', d.expected],
    ['node', d.node_id],
    ['schedule', scheduleText(d)],
    ['paused', d.paused ? 'yes' : 'no'],
    ['created by', d.created_by],
    ['next runs', d.next_runs.map(time)],
  ]);
  if (d.recent_runs.length) {
    out.line('recent runs:');
    for (const r of d.recent_runs) out.line(`  ${time(r.at)}  ${r.workflow_id}`);
  }
}
