/** What `journalctl -u gpu-orchestrator.service -o short-iso` and `ps -o pid=,args=` print, as data. */
import type { JournalEntry } from '../../domain/leader-recovery';

/** "2026-11-22T10:15:30+0000 dev-control-1 gpu-orchestrator[1234]: {...}" */
const LINE = /^(\S+) \S+ ([^\s[]+)\[(\d+)\]: (.*)$/;

/** The unit's journal as entries; a JSON line (the orchestrator's own) is read for its `msg`. */
export function parseUnitJournal(stdout: string): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const line of stdout.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, at, ident, pid, message] = m;
    out.push({ at: at!, ident: ident!, pid: Number(pid), msg: jsonMsg(message!) ?? message! });
  }
  return out;
}

function jsonMsg(message: string): string | undefined {
  if (!message.startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(message) as { msg?: unknown };
    return typeof parsed.msg === 'string' ? parsed.msg : undefined;
  } catch {
    return undefined;
  }
}

/** Whether ps's output shows an orchestrator process under `pid` (a reused pid running something else does not count). */
export function isOrchestratorProcess(psStdout: string, pid: number): boolean {
  return psStdout.split('\n').some((l) => new RegExp(`^\\s*${pid}\\s+\\S*gpu-orchestrator\\b`).test(l));
}
