/**
 * Seed 000's boundary validation, read-only, from each host's process list:
 * no platform-app control component and no CI workload on a GPU worker, and the
 * app_control host not running the platform's control services. A violation is
 * a finding of its own, whatever the incident's first failing boundary.
 */
import { citeRule, ruleById } from './host-role-rules';
import type { HostRole } from './host-roles';

export interface HostProcess {
  pid: number;
  user: string;
  args: string;
}

export interface BoundaryFinding {
  host_name: string;
  host_role: HostRole;
  rule: string;
  /** The rule as the seed says it, with its source. */
  cites: string;
  what: string;
  pid: number;
  process: string;
}

interface ForbiddenProcess {
  role: HostRole;
  rule: string;
  what: string;
  /** Matched against the program's name (argv[0]'s base name) and its arguments. */
  matches: (program: string, args: readonly string[]) => boolean;
}

const has = (args: readonly string[], word: string) => args.includes(word);

const FORBIDDEN: readonly ForbiddenProcess[] = [
  { role: 'worker_compute', rule: 'no-control-daemons-on-gpu', what: 'Slurm controller (slurmctld)', matches: (p) => p === 'slurmctld' },
  {
    role: 'worker_compute',
    rule: 'no-control-daemons-on-gpu',
    what: 'Ray head',
    matches: (p, a) => p === 'gcs_server' || (p === 'ray' && has(a, 'start') && has(a, '--head')),
  },
  {
    role: 'worker_compute',
    rule: 'no-control-daemons-on-gpu',
    what: 'Kubernetes control plane (k3s server / kube-apiserver)',
    matches: (p, a) => p === 'kube-apiserver' || (p === 'k3s' && has(a, 'server')),
  },
  {
    role: 'worker_compute',
    rule: 'no-ci-on-gpu',
    what: 'CI runner',
    matches: (p, a) => p === 'gitlab-runner' || p === 'Runner.Listener' || (p === 'gitlab-ci-multi-runner' && has(a, 'run')),
  },
  {
    role: 'app_control',
    rule: 'lab-host-not-platform-control',
    what: 'platform control service (GitLab, registry, GPUaaS API)',
    matches: (p, a) => ['gitlab-workhorse', 'gitaly', 'gpuaas-api', 'gpuaas-outbox-relay'].includes(p) || (p === 'registry' && has(a, 'serve')),
  },
];

/** `ps -eo pid=,user=,args=` output, one process per line. */
export function parseProcessList(stdout: string): HostProcess[] {
  const out: HostProcess[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\s*(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (m) out.push({ pid: Number(m[1]), user: m[2]!, args: m[3]! });
  }
  return out;
}

/** The findings on one host: each process its role forbids, with the rule it breaks. */
export function validateBoundary(host: { host_name: string; host_role: HostRole }, processes: readonly HostProcess[]): BoundaryFinding[] {
  const rules = FORBIDDEN.filter((f) => f.role === host.host_role);
  const findings: BoundaryFinding[] = [];
  for (const proc of processes) {
    const argv = proc.args.split(/\s+/);
    const program = (argv[0] ?? '').replace(/^.*\//, '').replace(/:$/, '');
    const broken = rules.find((r) => r.matches(program, argv.slice(1)));
    if (broken)
      findings.push({
        ...host,
        rule: broken.rule,
        cites: citeRule(ruleById(broken.rule)),
        what: broken.what,
        pid: proc.pid,
        process: proc.args,
      });
  }
  return findings;
}
