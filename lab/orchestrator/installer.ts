/**
 * The fleet's package step for the orchestrator on a replica host:
 * `gpu-orchestrator-install VERSION` fetches the release, checks it, writes the
 * binary and ORCHESTRATOR_VERSION in the env file, and restarts
 * gpu-orchestrator.service (SIGTERM: a leader gives its lock back first). The
 * new process reads the version at start. A release it cannot fetch or verify
 * changes nothing on the host and exits non-zero; the `install_fails` fault makes
 * the verification fail on one host, as a corrupt mirror would.
 */
import { fail, type CommandPlan, type CommandResult } from '../command-types';
import type { AppHost } from '../app-runtime/app-host';
import { parseEnvFile } from '../app-runtime/host-files';
import { ORCHESTRATOR_BINARY, ORCHESTRATOR_ENV } from './programs';

export const ORCHESTRATOR_INSTALLER = '/usr/local/sbin/gpu-orchestrator-install';
/** Releases the lab's package mirror holds. */
export const ORCHESTRATOR_RELEASES = ['2.2.4', '2.3.0', '2.3.1', '2.4.0', '2.4.1'] as const;
const MIRROR = 'https://packages.gpuaas.dev/gpu-orchestrator';

/** Real durations, in ms: fetching and verifying a ~60 MB package, then the restart. */
const INSTALL_MS = 15_000;
const VERIFY_FAIL_MS = 9_000;
const UNKNOWN_MS = 1_500;

export const INSTALLER_SCRIPT = `#!/bin/bash
# gpu-orchestrator-install VERSION: installs gpu-orchestrator VERSION from ${MIRROR} and restarts gpu-orchestrator.service.
set -euo pipefail
`;

export function installOrchestrator(host: AppHost, args: readonly string[], unit: string, failing: () => boolean): CommandPlan {
  if (args.length !== 1 || !/^\d+\.\d+\.\d+$/.test(args[0] ?? '')) {
    return { durationMs: 10, finish: () => fail(2, 'usage: gpu-orchestrator-install VERSION (e.g. gpu-orchestrator-install 2.4.0)\n') };
  }
  const version = args[0]!;
  const pkg = `gpu-orchestrator_${version}_amd64.deb`;
  if (!(ORCHESTRATOR_RELEASES as readonly string[]).includes(version)) {
    return {
      durationMs: UNKNOWN_MS,
      finish: () => fail(1, `gpu-orchestrator-install: fetching ${MIRROR}/${pkg}\ngpu-orchestrator-install: ${pkg}: 404 Not Found\n`),
    };
  }
  // Decided when the process starts, as the mirror answers then.
  if (failing()) {
    return {
      durationMs: VERIFY_FAIL_MS,
      finish: () =>
        fail(
          1,
          `gpu-orchestrator-install: fetching ${MIRROR}/${pkg}\ngpu-orchestrator-install: ${pkg}: SHA256 mismatch (expected 3f1c…9a0e, got 77b2…c415); nothing installed\n`,
        ),
    };
  }
  return {
    durationMs: INSTALL_MS,
    finish: (): CommandResult => {
      const { files } = host;
      const env = files.read(ORCHESTRATOR_ENV) ?? '';
      const previous = parseEnvFile(env).get('ORCHESTRATOR_VERSION') ?? null;
      files.write(ORCHESTRATOR_BINARY, `\u007fELF gpu-orchestrator ${version}\n`, { mode: 0o755 });
      const line = `ORCHESTRATOR_VERSION=${version}`;
      files.write(ORCHESTRATOR_ENV, /^ORCHESTRATOR_VERSION=.*$/m.test(env) ? env.replace(/^ORCHESTRATOR_VERSION=.*$/m, line) : `${line}\n${env}`, {
        mode: 0o640,
      });
      const u = host.unit(unit);
      const out = [
        `gpu-orchestrator-install: fetching ${MIRROR}/${pkg}`,
        `gpu-orchestrator-install: ${pkg}: SHA256 OK`,
        `gpu-orchestrator-install: installed ${ORCHESTRATOR_BINARY} (${version}, was ${previous ?? 'none'})`,
        `gpu-orchestrator-install: wrote ${ORCHESTRATOR_ENV} (ORCHESTRATOR_VERSION=${version})`,
        `gpu-orchestrator-install: restarting ${unit}`,
      ];
      const mutation = { kind: 'orchestrator_install' as const, applied: true, detail: { version, previous_version: previous } };
      const r = u ? u.restart() : { ok: false as const, stderr: `Failed to restart ${unit}: Unit ${unit} not found.\n`, exitCode: 5 };
      if (!r.ok) return { stdout: `${out.join('\n')}\n`, stderr: r.stderr, exitCode: 1, mutation };
      out.push(`gpu-orchestrator-install: ${unit} is active`);
      return { stdout: `${out.join('\n')}\n`, stderr: '', exitCode: 0, mutation };
    },
  };
}
