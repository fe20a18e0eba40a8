import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { ParentClosePolicy, proxyActivities, setHandler, startChild, workflowInfo } from '@temporalio/workflow';
import type { InventoryActivities } from '../../capabilities/inventory/inventory-activities';
import type { TriageActivities } from '../../capabilities/triage/triage-activities';
import { validateBoundary, type BoundaryFinding } from '../../domain/boundary-validation';
import { decideTriage, type TriageDecision } from '../../domain/incident-triage';
import type { LogEvent, Span } from '../../domain/incident-evidence';
import { MEMO_REQUESTED_BY, type RunReport } from '../../domain/runbook';
import type { RunbookDefinition } from '../../domain/runbook-definition';
import { ActivityOptionSets } from '../../engine/activity-options';
import { failureOf } from '../../engine/failures';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput } from '../../engine/target';
import { appInstanceDeployRunbook } from '../app-instance-deploy/definition';
import { gpuHealthCheckRunbook } from '../gpu-health-check/definition';
import { IncidentTriageInputSchema, RUNBOOK_INCIDENT_TRIAGE, triageRequestSignal, type IncidentTriageInput, type IncidentTriageRequest } from './input';
import { nextStepFor, type NextStep } from './policies/next-step';
import { uncorrelatedSearch } from './policies/uncorrelated-search';

const acts = {
  evidence: proxyActivities<TriageActivities>(ActivityOptionSets.platformCall),
  hosts: proxyActivities<TriageActivities>(ActivityOptionSets.hostRead),
  inventory: proxyActivities<InventoryActivities>(ActivityOptionSets.platformCall),
};

/** The runbooks a triage may offer as its next step, by name: their ids and workflow types come from their definitions. */
const NEXT_STEP_RUNBOOKS: Readonly<Record<string, RunbookDefinition>> = {
  'gpu-health-check': gpuHealthCheckRunbook,
  'app-instance-deploy': appInstanceDeployRunbook,
};

/**
 * incident-triage: which host role an incident belongs to, from its correlation_id
 * (seed 000), read only.
 *
 * pre-checks (the reported host, if any, against the inventory) → procedure: the
 * seed's LogQL by correlation_id for the API and each role, the trace when there is
 * a trace_id, the failing services' lines that lost the id → the first failing
 * boundary, its class and the downstream impact → boundary validation over SSH on
 * every host involved → verify: the evidence report, and a runbook that acts on the
 * diagnosis offered as a next step that starts only on approval.
 */
export async function incidentTriage(request: IncidentTriageRequest): Promise<RunReport> {
  const input = parseWorkflowInput(IncidentTriageInputSchema, request);
  const run = new RunbookRun({ runbook: RUNBOOK_INCIDENT_TRIAGE, correlationId: input.correlation_id, runMode: input.run_mode, nodeId: input.node_id });
  setHandler(triageRequestSignal, (req) => run.queueEvidence('request', 'alert', `reported again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => new IncidentTriage(run, input).triage());
}

class IncidentTriage {
  constructor(
    private readonly run: RunbookRun,
    private readonly input: IncidentTriageInput,
  ) {}

  async triage(): Promise<RunbookResult> {
    const { run, input } = this;
    run.phase('pre_checks');
    const reported = [input.node_id, input.host_name].filter((n): n is string => !!n);
    if (reported.length) {
      const hosts = await run.step('check_reported_host', () => acts.inventory.findHostsByName(reported), {
        describe: (r) =>
          [
            ...r.found.map((h) => `${h.hostname} is ${h.role}${input.host_role && input.host_role !== h.role ? ` (reported as ${input.host_role})` : ''}`),
            ...r.unknown.map((n) => `${n} not in the inventory`),
          ].join('; '),
      });
      const host = hosts.found[0];
      if (host) run.setTarget({ node_id: host.node_id, host_name: host.hostname, host_role: host.role });
    } else {
      await run.skip('check_reported_host', 'no host was reported; the evidence names the hosts');
    }

    run.phase('procedure');
    const endMs = Date.now();
    const startMs = endMs - input.lookback;
    const logs = await run.step(
      'query_correlated_logs',
      (ctx) => acts.evidence.queryCorrelatedLogs(ctx, input.correlation_id, startMs, endMs, input.log_limit),
      {
        describe: (l) => `${l.events.length} line(s): ${l.queries.map((q) => `${q.name} ${q.lines}`).join(', ')}`,
      },
    );
    const spans: Span[] = input.trace_id
      ? await run.step('read_trace', (ctx) => acts.evidence.readTrace(ctx, input.trace_id!), {
          describe: (s) =>
            `${s.length} span(s), ${s.filter((x) => x.status === 'error').length} failed, services: ${[...new Set(s.map((x) => x.service))].join(', ') || 'none'}`,
        })
      : (await run.skip('read_trace', 'no trace_id was given'), []);
    const uncorrelated = await this.uncorrelatedErrors(logs.events, spans, startMs);
    const evidence = [...logs.events, ...uncorrelated];
    const decision = await run.step('decide_first_failing_boundary', async () => decideTriage(input.correlation_id, evidence, spans), {
      describe: (d) => `${d.outcome}: ${d.summary}`,
    });
    const findings = await this.validateBoundaries(evidence, spans);

    run.phase('verify');
    const next = nextStepFor(decision, evidence, input.node_id);
    await run.step(
      'report_evidence',
      (ctx) => run.evidence(ctx, 'classification', decision.summary, this.report(decision, evidence, spans, findings, next), 'triage-report'),
      {
        describe: () =>
          `${decision.outcome}; ${findings.length} boundary finding(s)${decision.gaps.length ? `; follow-up: ${decision.gaps.map((g) => g.missing).join(', ')}` : ''}`,
      },
    );
    const started = next
      ? await this.offerNextStep(next, decision)
      : (await run.skip('approve_next_step', 'no runbook acts on this diagnosis with what the evidence names'), null);
    return {
      outcome: decision.outcome,
      summary:
        decision.summary +
        (findings.length ? `; boundary findings: ${findings.map((f) => `${f.what} on ${f.host_name}`).join(', ')}` : '') +
        (decision.gaps.length ? `; follow-up: ${decision.gaps.map((g) => g.follow_up).join('; ')}` : '') +
        (decision.would_decide ? `; would decide: ${decision.would_decide}` : '') +
        (started ? `; next step started: ${started}` : ''),
    };
  }

  /** Failures that lost their correlation_id, where uncorrelatedSearch says to look. */
  private async uncorrelatedErrors(events: LogEvent[], spans: Span[], lookbackStartMs: number): Promise<LogEvent[]> {
    const search = uncorrelatedSearch(events, spans, this.input.uncorrelated_window, lookbackStartMs);
    if (!search) {
      await this.run.skip('query_uncorrelated_errors', this.input.uncorrelated_window === 0 ? 'uncorrelated_window is 0' : 'no evidence to look around');
      return [];
    }
    return this.run.step(
      'query_uncorrelated_errors',
      (ctx) => acts.evidence.queryUncorrelatedErrors(ctx, search.queries, search.startMs, search.endMs, this.input.log_limit),
      {
        describe: (found) => `${found.length} error line(s) without correlation_id ${search.why}`,
      },
    );
  }

  /** Seed 000's boundary validation on every inventoried host the evidence names (and the reported one), read only. */
  private async validateBoundaries(evidence: LogEvent[], spans: Span[]): Promise<BoundaryFinding[]> {
    const { run, input } = this;
    // Every host a line or span of the incident came from, failing or not: a runner's warning on the GPU worker counts too.
    const names = [input.node_id, input.host_name, ...evidence.map((e) => e.host_name), ...spans.map((s) => s.host_name)].filter((n): n is string => !!n);
    if (names.length === 0) {
      await run.skip('validate_host_boundaries', 'no host is named by the report or the evidence');
      return [];
    }
    const hosts = await run.step('resolve_involved_hosts', () => acts.inventory.findHostsByName([...new Set(names)]), {
      describe: (r) => [...r.found.map((h) => `${h.hostname} (${h.role})`), ...r.unknown.map((n) => `${n}: not in the inventory, not checked`)].join(', '),
    });
    const checked = await run.step(
      'validate_host_boundaries',
      async (ctx) => {
        const found: BoundaryFinding[] = [];
        const unchecked: string[] = [];
        for (const h of hosts.found) {
          try {
            const processes = await acts.hosts.readHostProcesses({ ...ctx, node_id: h.node_id });
            found.push(...validateBoundary({ host_name: h.hostname, host_role: h.role }, processes));
          } catch (err) {
            // One host that cannot be read (unreachable, ps refused) is reported, not a failed triage.
            unchecked.push(`${h.hostname}: ${failureOf(err).message}`);
          }
        }
        return { found, unchecked };
      },
      {
        describe: ({ found, unchecked }) =>
          [
            found.length
              ? found.map((f) => `${f.host_name}: ${f.what} (pid ${f.pid}) breaks ${f.rule}`).join('; ')
              : `${hosts.found.length - unchecked.length} host(s) within their role`,
            ...unchecked.map((u) => `not validated: ${u}`),
          ].join('; '),
      },
    );
    return checked.found;
  }

  /** Seed 000's "Evidence to Capture", plus what decided it, the findings and the recovery guidance. */
  private report(decision: TriageDecision, evidence: LogEvent[], spans: Span[], findings: BoundaryFinding[], next: NextStep | null) {
    const { input } = this;
    const first = decision.first_failure;
    // The line and the span that are the first failure: the same event, told by its log and its trace.
    const deciding = first ? evidence.filter((e) => e.service === first.service && Date.parse(e.ts) === Date.parse(first.at)) : [];
    return {
      correlation_id: input.correlation_id,
      trace_id: input.trace_id ?? null,
      failing_action: first?.action ?? null,
      host_role: first?.host_role ?? null,
      host_name: first?.host_name ?? input.host_name ?? null,
      node_id: first?.node_id ?? input.node_id ?? null,
      app_slug: input.app_slug ?? evidence.find((e) => e.app_slug)?.app_slug ?? null,
      first_failing_boundary: decision.first_failing_boundary,
      failure_class: decision.failure_class,
      scope: decision.scope,
      downstream_impact: decision.downstream_impact,
      runtime_boundary: {
        operating_mode: input.operating_mode ?? null,
        control_plane_scope: input.control_plane_scope ?? null,
        runtime_backend: input.runtime_backend ?? null,
        tenant_boundary_mode: input.tenant_boundary_mode ?? null,
      },
      decided_by: {
        log_lines: deciding,
        spans: first ? spans.filter((s) => s.span_id === first.span_id || (s.service === first.service && Date.parse(s.start) === Date.parse(first.at))) : [],
      },
      boundary_findings: findings,
      observability_gaps: decision.gaps,
      recovery_guidance: decision.recovery_guidance,
      would_decide: decision.would_decide,
      next_step: next,
      outcome: decision.outcome,
    };
  }

  /** The next step starts only when a person approves it; its run is its own (the triage does not wait for it). */
  private async offerNextStep(next: NextStep, decision: TriageDecision): Promise<string | null> {
    const { run, input } = this;
    const decided = await run.approval(
      'approve_next_step',
      `Start ${next.runbook} with ${JSON.stringify(next.input)}? ${next.why}`,
      { next_step: next, first_failing_boundary: decision.first_failing_boundary, failure_class: decision.failure_class },
      input.approval_timeout,
      { kind: 'generic', disruption: `${next.runbook} runs as its own run and asks for its own approvals before it changes anything` },
    );
    if (decided.decision !== 'approve') {
      await run.skip('start_next_step', `not approved (${decided.decision})`);
      return null;
    }
    const definition = NEXT_STEP_RUNBOOKS[next.runbook]!;
    const childInput = definition.schema.parse({ ...next.input, source: `incident-triage/${input.correlation_id}` });
    const workflowId = definition.workflowId(childInput);
    return run.step(
      'start_next_step',
      async () => {
        try {
          await startChild(definition.workflowType, {
            workflowId,
            args: [{ ...childInput, correlation_id: input.correlation_id }],
            parentClosePolicy: ParentClosePolicy.ABANDON,
            // The approver asked for it: the child's own approvals need someone else (two-person rule).
            memo: { [MEMO_REQUESTED_BY]: decided.actor ?? workflowInfo().workflowId },
          });
          return `${workflowId} (started)`;
        } catch (err) {
          // A run of that runbook on that target is open already: it is the next step; nothing starts twice.
          if (err instanceof WorkflowExecutionAlreadyStartedError) return `${workflowId} (already running)`;
          throw err;
        }
      },
      { describe: (id) => `${id}, approved by ${decided.actor}` },
    );
  }
}
