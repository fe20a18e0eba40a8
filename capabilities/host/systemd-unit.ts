/**
 * Host jobs as transient systemd units: the argv the engine sends and the parser
 * of what `systemctl show` answers. Pure; the SSH layer quotes every argument.
 *
 * Why systemd: a unit outlives the SSH connection and the worker, its name is
 * derived from the step's idempotency key (so a retry finds it instead of
 * starting a second one), and systemd keeps its exit status
 * (--remain-after-exit) until the engine has recorded it.
 */
import { createHash } from 'node:crypto';

/** Output files live in /var/tmp: they survive a reboot and systemd-tmpfiles ages them out. */
const OUTPUT_DIR = '/var/tmp';

export const UNIT_PROPERTIES = ['LoadState', 'ActiveState', 'SubState', 'Result', 'ExecMainCode', 'ExecMainStatus', 'ExecMainPID'] as const;

/** CLD_* codes from waitid(2), as systemd reports them in ExecMainCode. */
const CLD_EXITED = 1;

/** "gpuaas-<step>-<hash of the idempotency key>": readable in `systemctl list-units`, unique per step attempt chain. */
export function unitNameFor(idempotencyKey: string, step: string): string {
  const slug = step.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 40);
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 20);
  return `gpuaas-${slug}-${hash}`;
}

export const outputFile = (unit: string, stream: 'out' | 'err'): string => `${OUTPUT_DIR}/${unit}.${stream}`;

export const startUnitCommand = (unit: string, argv: readonly string[]): string[] => [
  'systemd-run',
  `--unit=${unit}`,
  '--quiet',
  '--remain-after-exit',
  `--property=StandardOutput=truncate:${outputFile(unit, 'out')}`,
  `--property=StandardError=truncate:${outputFile(unit, 'err')}`,
  '--',
  ...argv,
];

export const showUnitCommand = (unit: string): string[] => ['systemctl', 'show', `--property=${UNIT_PROPERTIES.join(',')}`, `${unit}.service`];
export const stopUnitCommand = (unit: string): string[] => ['systemctl', 'stop', `${unit}.service`];
export const resetFailedUnitCommand = (unit: string): string[] => ['systemctl', 'reset-failed', `${unit}.service`];
export const readOutputCommand = (unit: string, stream: 'out' | 'err'): string[] => ['cat', outputFile(unit, stream)];

/** systemd-run's answer when a unit of that name is loaded: the job already started. */
export function isAlreadyLoaded(stderr: string): boolean {
  return /was already loaded or has a fragment file/.test(stderr);
}

export type UnitState =
  | { kind: 'absent' }
  | { kind: 'running'; pid: number }
  | { kind: 'exited'; exit_code: number; failed: boolean }
  | { kind: 'killed'; signal: number }
  /** Loaded but in a state this engine does not start units in (activating, deactivating, ...). */
  | { kind: 'other'; active: string; sub: string };

/** Parses `systemctl show --property=...` (Key=Value lines, any order). */
export function parseUnitState(stdout: string): UnitState {
  const p = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) p.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const load = p.get('LoadState');
  const active = p.get('ActiveState') ?? '';
  const sub = p.get('SubState') ?? '';
  if (load === undefined) throw new Error(`systemctl show printed no LoadState: ${stdout.slice(0, 200)}`);
  if (load === 'not-found' || (active === 'inactive' && sub === 'dead')) return { kind: 'absent' };
  if (active === 'active' && sub === 'running') return { kind: 'running', pid: Number(p.get('ExecMainPID') ?? 0) };
  const finished = (active === 'active' && sub === 'exited') || active === 'failed';
  if (finished) {
    const code = Number(p.get('ExecMainCode') ?? CLD_EXITED);
    const status = Number(p.get('ExecMainStatus') ?? 0);
    if (code !== CLD_EXITED) return { kind: 'killed', signal: status };
    return { kind: 'exited', exit_code: status, failed: active === 'failed' };
  }
  return { kind: 'other', active, sub };
}
