import { Command } from 'commander';
import { contextOf, runPath } from '../context';

export function cancelCommand(): Command {
  return new Command('cancel')
    .description('cancel a running run; it compensates what it did, then ends cancelled (POST /api/v1/runs/{id}/cancel)')
    .argument('<workflow-id>', 'e.g. gpu-fault/dev-gpu-1')
    .requiredOption('--reason <text>', 'why; recorded on the run and in the audit trail')
    .action(async (workflowId: string, opts: { reason: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const { body } = await api.post<{ workflow_id: string; run_id: string; cancel_requested: boolean }>(`${runPath(workflowId)}/cancel`, {
        reason: opts.reason,
      });
      if (out.json) return out.printJson(body);
      out.line(`cancel requested for ${body.workflow_id} (run ${body.run_id})`);
      out.note(`follow it with: gpuaas-runbooks runs watch ${body.workflow_id}`);
    });
}
