/**
 * Extracts NVRM Xid events from kernel log text (dmesg, dmesg -T, syslog,
 * journalctl in any of its short formats). Every other line, including
 * non-Xid NVRM lines and stack traces, is ignored.
 */
import type { KernelXidEvent } from '../../domain/gpu-observations';
import { normalizePciBusId } from '../../domain/pci';
import { parseXidRecoveryAction } from '../../domain/xid-recovery';

/** Xid 154 states the driver's requested recovery ("... changed from 0x0 (None) to 0x2 (Node Reboot Required)"). */
const XID_RECOVERY_ACTION = 154;

/** "NVRM: Xid (<device>): <code>[, <rest>]" */
const XID_RE = /NVRM: Xid \(([^)]*)\):\s*(\d+)\b,?\s*(.*)$/;

/** Timestamp forms a prefix may carry, most precise wall-clock first. */
const TIMESTAMP_RES: RegExp[] = [
  // journalctl -o short-iso / rsyslog RFC 3339: 2026-11-22T10:15:30+0000, ...T10:15:30.123456+00:00
  /(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?)/,
  // syslog / journalctl short: "Nov 22 18:29:55 host kernel:"; short-precise adds ".123456"
  /^([A-Z][a-z]{2}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}(?:\.\d+)?)\s/,
  // dmesg -T: "[Sun Feb 23 16:24:18 2025]"; dmesg: "[ 5107.644336]"
  /\[\s*([^\]]+?)\s*\]/,
];

/** pid=1234 or pid='<unknown>', optionally followed by name=<comm>. */
const PID_RE = /^pid=('?<unknown>'?|\d+)\s*(?:,\s*|$)/;
const NAME_RE = /^name=([^,]*?)\s*(?:,\s*|$)/;

function timestampOf(prefix: string): string | undefined {
  for (const re of TIMESTAMP_RES) {
    const m = re.exec(prefix.trim());
    if (m) return m[1];
  }
  return undefined;
}

export function parseKernelXids(text: string): KernelXidEvent[] {
  const events: KernelXidEvent[] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    const at = rawLine.indexOf('NVRM: Xid');
    if (at < 0) continue;
    const m = XID_RE.exec(rawLine.slice(at));
    if (!m) continue;
    const [, device, code, tail] = m;

    let rest = (tail ?? '').trim();
    let pid: number | undefined;
    let processName: string | undefined;
    const pidMatch = PID_RE.exec(rest);
    if (pidMatch) {
      if (/^\d+$/.test(pidMatch[1]!)) pid = Number(pidMatch[1]);
      rest = rest.slice(pidMatch[0].length);
      const nameMatch = NAME_RE.exec(rest);
      if (nameMatch) {
        if (nameMatch[1] !== '<unknown>' && nameMatch[1] !== '') processName = nameMatch[1];
        rest = rest.slice(nameMatch[0].length);
      }
    }

    const event: KernelXidEvent = {
      xid: Number(code),
      pci_bus_id: normalizePciBusId(device!),
      message: rest.trim(),
      raw: rawLine.trim(),
    };
    const timestamp = timestampOf(rawLine.slice(0, at));
    if (timestamp !== undefined) event.timestamp = timestamp;
    if (pid !== undefined) event.pid = pid;
    if (processName !== undefined) event.process_name = processName;
    if (event.xid === XID_RECOVERY_ACTION) {
      const requested = parseXidRecoveryAction(event.message);
      event.recovery_action = requested.action;
      if (requested.code !== undefined) event.recovery_action_code = requested.code;
      event.recovery_action_text = requested.text;
    }
    events.push(event);
  }
  return events;
}
