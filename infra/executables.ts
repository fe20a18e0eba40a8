import fs from 'node:fs';
import path from 'node:path';

export function isExecutableFile(p: string): boolean {
  try {
    if (!fs.statSync(p).isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable `name` in `env.PATH`, then in `extraDirs` (e.g. /usr/sbin, which is not on a normal user's PATH). */
export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env, extraDirs: readonly string[] = []): string | undefined {
  for (const dir of [...(env.PATH ?? '').split(path.delimiter), ...extraDirs]) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}
