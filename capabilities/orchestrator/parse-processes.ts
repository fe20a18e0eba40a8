/**
 * `ps -p PIDS -o pid=,lstart=,user=,rss=,args=` rows, and what makes a process a
 * worker of a given pool: its argv runs gpu_orchestrator.worker with `--pool <id>`.
 */
export interface HostProcess {
  pid: number;
  /** ps's lstart ("Wed Apr  8 10:00:00 2026"), whitespace collapsed: with the PID, the process's identity. */
  started: string;
  user: string;
  rss_kib: number;
  args: string;
}

const ROW = /^\s*(\d+)\s+(\w{3}\s+\w{3}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+\d{4})\s+(\S+)\s+(\d+)\s+(.*)$/;

export function parseProcesses(stdout: string): HostProcess[] {
  const out: HostProcess[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim()) continue;
    const m = ROW.exec(line);
    if (!m) throw new SyntaxError(`unexpected ps line: ${line.slice(0, 200)}`);
    out.push({ pid: Number(m[1]), started: m[2]!.replace(/\s+/g, ' '), user: m[3]!, rss_kib: Number(m[4]), args: m[5]!.trim() });
  }
  return out;
}

/** True when the process runs the orchestrator's worker module for exactly this pool. */
export function isWorkerOf(p: Pick<HostProcess, 'args'>, poolId: string): boolean {
  const argv = p.args.split(/\s+/);
  const runsWorker = argv.some((a, i) => a === '-m' && argv[i + 1] === 'gpu_orchestrator.worker');
  const pool = argv.findIndex((a) => a === '--pool');
  return runsWorker && pool >= 0 && argv[pool + 1] === poolId;
}
