/**
 * The NVIDIA driver as packages on a Debian/Ubuntu GPU host: `apt-get install` of a
 * pinned `nvidia-driver-<branch>-server=<version>-0ubuntu1` from the site's mirror
 * (dkms builds the module for the running kernel, minutes), `dpkg-query` for what is
 * installed. The new module loads only at the next boot: until then nvidia-smi fails
 * with NVML's "Driver/library version mismatch", as on a real host.
 */
import { DURATIONS, fail, ok, type CommandPlan, type CommandResult } from './command-types';
import type { SimHostState } from './gpu-host-state';

/** What the mirror carries (branch 535, 550 and 560 server drivers). */
export const DRIVER_REPOSITORY = ['535.183.01', '550.90.07', '550.127.08', '560.35.03'] as const;

const PACKAGE = /^nvidia-driver-(\d+)-server$/;
const KERNEL = '6.8.0-48-generic';

export const packageOf = (driver: string) => `nvidia-driver-${driver.split('.')[0]}-server`;
export const packageVersionOf = (driver: string) => `${driver}-0ubuntu1`;

/** apt-get install -y [--allow-downgrades] [--no-install-recommends] PKG=VERSION */
export function aptGet(state: SimHostState, args: readonly string[]): CommandPlan {
  const [verb, ...rest] = args;
  if (verb !== 'install') return { durationMs: DURATIONS.small, finish: () => fail(100, `E: lab: apt-get ${verb ?? ''} is not simulated (install only)\n`) };
  const flags = rest.filter((a) => a.startsWith('-'));
  const specs = rest.filter((a) => !a.startsWith('-'));
  if (!flags.includes('-y') && !flags.includes('--yes'))
    return { durationMs: DURATIONS.small, finish: () => fail(1, 'Do you want to continue? [Y/n] Abort.\n') };
  const unknown = flags.find((f) => !['-y', '--yes', '--allow-downgrades', '--no-install-recommends'].includes(f));
  if (unknown)
    return {
      durationMs: DURATIONS.small,
      finish: () => fail(100, `E: Command line option '${unknown}' is not understood in combination with the other options\n`),
    };
  if (specs.length !== 1) return { durationMs: DURATIONS.small, finish: () => fail(100, 'E: lab: install one pinned package (PKG=VERSION)\n') };
  const [pkg = '', version = ''] = specs[0]!.split('=');
  const driver = version.replace(/-0ubuntu1$/, '');
  const branch = PACKAGE.exec(pkg)?.[1];
  if (!branch || !version) return { durationMs: 1_500, finish: () => fail(100, `E: Unable to locate package ${specs[0]}\n`) };
  if (!(DRIVER_REPOSITORY as readonly string[]).includes(driver) || !driver.startsWith(`${branch}.`) || version !== packageVersionOf(driver)) {
    return { durationMs: 1_500, finish: () => fail(100, `E: Version '${version}' for '${pkg}' was not found\n`) };
  }
  const current = state.driverInstalled;
  if (current === driver) {
    return {
      durationMs: 1_500,
      finish: () => ok(`${pkg} is already the newest version (${version}).\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n`),
    };
  }
  const downgrade = compareVersions(driver, current) < 0;
  if (downgrade && !flags.includes('--allow-downgrades')) {
    return { durationMs: 1_500, finish: () => fail(100, 'E: Packages were downgraded and -y was used without --allow-downgrades.\n') };
  }
  return {
    durationMs: DURATIONS.driverInstall,
    finish: (): CommandResult => {
      const head = `Reading package lists...\nBuilding dependency tree...\nThe following packages will be ${downgrade ? 'DOWNGRADED' : 'upgraded'}:\n  ${pkg}\nUnpacking ${pkg} (${version}) over (${packageVersionOf(current)}) ...\nSetting up ${pkg} (${version}) ...\nBuilding initial module for ${KERNEL}\n`;
      if (state.driverInstallFails) {
        state.driverInstallFails = false;
        return fail(
          100,
          `dpkg: error processing package ${pkg} (--configure):\n installed ${pkg} package post-installation script subprocess returned error exit status 10\nE: Sub-process /usr/bin/dpkg returned an error code (1)\n`,
          `${head}Error! Bad return status for module build on kernel: ${KERNEL} (x86_64)\nConsult /var/lib/dkms/nvidia/${driver}/build/make.log for more information.\n`,
        );
      }
      state.driverInstalled = driver;
      return ok(`${head}Done.\n`, { mutation: { kind: 'driver_install', applied: true, detail: { package: pkg, version, from: current } } });
    },
  };
}

/** dpkg-query -W -f='${Package}=${Version}\n' 'nvidia-driver-*' */
export function dpkgQuery(state: SimHostState, args: readonly string[]): CommandPlan {
  const format = args.find((a) => a.startsWith('-f=') || a.startsWith('--showformat='));
  const pattern = args.filter((a) => !a.startsWith('-')).pop() ?? '';
  if (!args.includes('-W') || !format)
    return { durationMs: DURATIONS.small, finish: () => fail(2, 'dpkg-query: lab: only -W -f=FORMAT PATTERN is simulated\n') };
  const pkg = packageOf(state.driverInstalled);
  const matches = new RegExp(`^${pattern.replace(/[.+]/g, '\\$&').replace(/\*/g, '.*')}$`).test(pkg);
  if (!matches) return { durationMs: DURATIONS.small, finish: () => fail(1, `dpkg-query: no packages found matching ${pattern}\n`) };
  const line = format
    .slice(format.indexOf('=') + 1)
    .replace('${Package}', pkg)
    .replace('${Version}', packageVersionOf(state.driverInstalled))
    .replace(/\\n/g, '\n');
  return { durationMs: DURATIONS.small, finish: () => ok(line) };
}

/** -1, 0, 1 for dotted numeric versions. */
function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0) ? -1 : 1;
  }
  return 0;
}
