/**
 * Reads the recovery action an Xid 154 line carries ("GPU recovery action
 * changed from 0x0 (None) to 0x2 (Node Reboot Required)"). Pure: the kernel log
 * parser uses it, and the classifier falls back to it for events recorded
 * before the parser filled the field in.
 */
import type { XidRecoveryAction } from './gpu-observations';

export interface ParsedRecoveryAction {
  action: XidRecoveryAction;
  /** The numeric value printed for the new action, when there is one. */
  code?: number;
  /** The driver's words for the new action, or what was read in their place. */
  text: string;
}

/** NVML's nvmlDeviceGpuRecoveryAction_t values 0..4, the ones NVIDIA's Xid catalogue documents. */
const BY_CODE: readonly XidRecoveryAction[] = ['none', 'gpu_reset', 'node_reboot', 'drain_p2p', 'drain_and_reset'];

/**
 * Texts seen for each action, tried in order ("Drain and Reset" before any
 * plain reset). "OS Reboot" and "PF FLR" are newer drivers' spellings of node
 * reboot and GPU reset seen in community logs. Texts of newer NVML values
 * (bus reset, system reboot, IMEX domain recovery) are left unknown on purpose:
 * the engine has no step that matches them, so a person decides.
 */
const BY_TEXT: readonly [RegExp, XidRecoveryAction][] = [
  [/\bdrain\s+(?:and|&)\s+reset\b/i, 'drain_and_reset'],
  [/\bdrain\s*p2p\b/i, 'drain_p2p'],
  [/\b(?:node|os)\s+reboot\b/i, 'node_reboot'],
  [/\bgpu\s+reset\b|\bpf\s*flr\b/i, 'gpu_reset'],
  [/^\s*none\s*$/i, 'none'],
];

/** "... changed from <old> to <new>"; <new> is "0x2 (Node Reboot Required)" or a variant of it. */
const CHANGED_TO_RE = /\bchanged\b.*?\bto\s+(.+?)\s*\.?\s*$/i;
const CODE_RE = /^(0x[0-9a-f]+|\d+)\b/i;
const LABEL_RE = /\(([^)]*)\)/;

function byText(text: string): XidRecoveryAction {
  for (const [re, action] of BY_TEXT) if (re.test(text)) return action;
  return 'unknown';
}

/**
 * The new recovery action of an Xid 154 message. The numeric value wins when
 * it is one of NVML's documented 0..4; otherwise the text decides; anything
 * else is 'unknown'. Never throws.
 */
export function parseXidRecoveryAction(message: string): ParsedRecoveryAction {
  const changed = CHANGED_TO_RE.exec(message);
  // Without the "changed ... to" shape only the text can be read, and only a
  // text naming a single action can be trusted (the whole message might name
  // both the old and the new one).
  const target = (changed ? changed[1]! : message).trim();

  let code: number | undefined;
  let rest = target;
  const codeMatch = CODE_RE.exec(target);
  if (changed && codeMatch) {
    code = codeMatch[1]!.toLowerCase().startsWith('0x') ? parseInt(codeMatch[1]!.slice(2), 16) : Number(codeMatch[1]);
    rest = target.slice(codeMatch[0].length).trim();
  }
  const label = LABEL_RE.exec(rest);
  const text = (label ? label[1]! : rest).trim();

  const fromCode = code !== undefined ? BY_CODE[code] : undefined;
  const parsed: ParsedRecoveryAction = { action: fromCode ?? byText(text), text };
  if (code !== undefined) parsed.code = code;
  return parsed;
}
