/**
 * What the node-agent's journal says about its link to the platform, read from
 * `journalctl -u gpuaas-node-agent -n 200 --no-pager`. Each finding keeps the line
 * that decided it; the last connection-state line wins, so an old failure followed by
 * `node certificate enrolled` reads as recovered. Pure.
 */
export const AGENT_SIGNS = ['name_unresolved', 'no_route', 'cert_expired', 'token_invalid', 'enrolled', 'connected'] as const;
export type AgentSign = (typeof AGENT_SIGNS)[number];

export interface AgentJournalFinding {
  sign: AgentSign;
  line: string;
}

const PATTERNS: [AgentSign, RegExp][] = [
  ['name_unresolved', /lookup \S+.*(no such host|server misbehaving|Temporary failure in name resolution)|Could not resolve host/i],
  ['no_route', /no route to host|network is unreachable|i\/o timeout|connection refused/i],
  ['cert_expired', /certificate (has )?expired|local certificate expired/i],
  ['token_invalid', /\b401\b.*token_invalid|token_invalid/i],
  ['enrolled', /node certificate enrolled/i],
  ['connected', /connected to node-api|stream established/i],
];

/** Every line that says something about the link, oldest first. */
export function agentJournalFindings(journal: string): AgentJournalFinding[] {
  const found: AgentJournalFinding[] = [];
  for (const line of journal.split('\n')) {
    const hit = PATTERNS.find(([, re]) => re.test(line));
    if (hit) found.push({ sign: hit[0], line: line.trim() });
  }
  return found;
}

/** The most recent finding: the agent's state as its journal last told it. */
export function latestAgentSign(journal: string): AgentJournalFinding | null {
  const all = agentJournalFindings(journal);
  return all[all.length - 1] ?? null;
}
