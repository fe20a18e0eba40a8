/**
 * The regular files of one host as the app runtime's programs see them: contents
 * live in SimHostState.files (so the existing `cat` reads them too); this adds
 * what a filesystem also has: directories, mode and owner. An SSH login's
 * working directory is /root, so relative paths resolve there.
 */
import { posix } from 'node:path';
import type { SimHostState } from '../gpu-host-state';

export interface FileMeta {
  mode: number;
  owner: string;
  group: string;
  mtime: Date;
}

/** Directories every lab host has. */
const BASE_DIRS = [
  '/',
  '/dev',
  '/etc',
  '/etc/gpuaas',
  '/etc/slurm',
  '/etc/systemd',
  '/etc/systemd/system',
  '/home',
  '/opt',
  '/opt/gpuaas',
  '/opt/gpuaas/bin',
  '/proc',
  '/root',
  '/tmp',
  '/usr',
  '/usr/bin',
  '/usr/local',
  '/usr/local/bin',
  '/usr/sbin',
  '/var',
  '/var/lib',
  '/var/lib/gpuaas',
  '/var/log',
  '/var/tmp',
];

export function resolvePath(path: string): string {
  return posix.resolve('/root', path);
}

export class HostFiles {
  private readonly meta = new Map<string, FileMeta>();
  private readonly dirs = new Set<string>(BASE_DIRS);

  constructor(private readonly state: SimHostState) {}

  read(path: string): string | undefined {
    return this.state.files.get(resolvePath(path));
  }

  exists(path: string): boolean {
    return this.state.files.has(resolvePath(path));
  }

  isDir(path: string): boolean {
    const p = resolvePath(path);
    if (this.dirs.has(p)) return true;
    const prefix = p === '/' ? '/' : `${p}/`;
    for (const f of this.state.files.keys()) if (f.startsWith(prefix)) return true;
    return false;
  }

  addDir(path: string, meta: Partial<FileMeta> = {}): void {
    const p = resolvePath(path);
    for (let d = p; d !== '/'; d = posix.dirname(d)) this.dirs.add(d);
    this.meta.set(p, { mode: 0o755, owner: 'root', group: 'root', mtime: new Date(), ...meta });
  }

  /** Writes (creates or replaces) a file; its mode and owner stay unless given. */
  write(path: string, content: string, meta: Partial<FileMeta> = {}): void {
    const p = resolvePath(path);
    const before = this.meta.get(p) ?? { mode: 0o644, owner: 'root', group: 'root', mtime: new Date() };
    this.state.files.set(p, content);
    this.meta.set(p, { ...before, ...meta, mtime: new Date() });
  }

  append(path: string, content: string): void {
    this.write(path, (this.read(path) ?? '') + content);
  }

  remove(path: string): boolean {
    const p = resolvePath(path);
    this.meta.delete(p);
    return this.state.files.delete(p);
  }

  /** rename(2): contents and metadata move together. */
  move(from: string, to: string): void {
    const src = resolvePath(from);
    const dst = resolvePath(to);
    const content = this.state.files.get(src);
    if (content === undefined) return;
    const meta = this.meta.get(src);
    this.state.files.delete(src);
    this.meta.delete(src);
    this.state.files.set(dst, content);
    if (meta) this.meta.set(dst, meta);
    else this.meta.delete(dst);
  }

  stat(path: string): (FileMeta & { size: number; type: 'file' | 'dir' }) | undefined {
    const p = resolvePath(path);
    const content = this.state.files.get(p);
    if (content !== undefined) {
      const m = this.meta.get(p) ?? { mode: 0o644, owner: 'root', group: 'root', mtime: new Date() };
      return { ...m, size: Buffer.byteLength(content), type: 'file' };
    }
    if (this.isDir(p)) return { ...(this.meta.get(p) ?? { mode: 0o755, owner: 'root', group: 'root', mtime: new Date() }), size: 4096, type: 'dir' };
    return undefined;
  }

  /** The lab reset cleared the contents (SimHostState.resetToHealthy); forget the metadata too. */
  reset(): void {
    this.meta.clear();
    this.dirs.clear();
    for (const d of BASE_DIRS) this.dirs.add(d);
  }
}

/** KEY=VALUE lines of an EnvironmentFile (comments and blank lines skipped, quotes stripped like systemd does). */
export function parseEnvFile(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (value.length >= 2 && ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))) value = value.slice(1, -1);
    env.set(line.slice(0, eq).trim(), value);
  }
  return env;
}
