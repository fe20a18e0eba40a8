/**
 * coreutils as the runbooks use them on a host: mv (move a stale certificate
 * aside), install and tee (write a file from the SSH session's stdin, so a
 * secret never appears in argv), cp, rm, test, stat. GNU messages and exit
 * statuses; every change is a recorded mutation whose detail never holds the
 * file's contents.
 */
import { posix } from 'node:path';
import { fail, ok, type CommandResult } from '../../command-types';
import type { HostFiles } from '../host-files';
import { resolvePath } from '../host-files';

const USERS: Record<string, { uid: number; home: string; gecos: string; shell: string }> = {
  root: { uid: 0, home: '/root', gecos: 'root', shell: '/bin/bash' },
  gpuaas: { uid: 1001, home: '/home/gpuaas', gecos: 'GPUaaS allocation user', shell: '/bin/bash' },
  slurm: { uid: 64030, home: '/nonexistent', gecos: 'SLURM Workload Manager', shell: '/usr/sbin/nologin' },
};

export function passwdLine(user: string): string | undefined {
  const u = USERS[user];
  return u ? `${user}:x:${u.uid}:${u.uid}:${u.gecos}:${u.home}:${u.shell}` : undefined;
}

/** Splits "-m 0600", "-m0600", "--mode=0600" and flag clusters ("-Dv") into options and operands. */
function getopt(
  args: readonly string[],
  withValue: Record<string, string>,
  prog: string,
): { ok: true; opts: Map<string, string | true>; operands: string[] } | { ok: false; result: CommandResult } {
  const opts = new Map<string, string | true>();
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      const short = withValue[name];
      if (short !== undefined) {
        const v = eq > 0 ? a.slice(eq + 1) : args[++i];
        if (v === undefined)
          return { ok: false, result: fail(1, `${prog}: option '${name}' requires an argument\nTry '${prog} --help' for more information.\n`) };
        opts.set(short, v);
      } else {
        opts.set(name, true);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const flag = `-${a[j]}`;
        if (withValue[flag] !== undefined) {
          const v = a.slice(j + 1) || args[++i];
          if (v === undefined)
            return { ok: false, result: fail(1, `${prog}: option requires an argument -- '${a[j]}'\nTry '${prog} --help' for more information.\n`) };
          opts.set(flag, v);
          break;
        }
        opts.set(flag, true);
      }
      continue;
    }
    operands.push(a);
  }
  return { ok: true, opts, operands };
}

const missingOperand = (prog: string) => fail(1, `${prog}: missing file operand\nTry '${prog} --help' for more information.\n`);

export function mv(files: HostFiles, args: readonly string[]): CommandResult {
  const g = getopt(args, { '-t': '-t', '--target-directory': '-t', '-S': '-S', '--suffix': '-S' }, 'mv');
  if (!g.ok) return g.result;
  const { opts } = g;
  for (const k of opts.keys())
    if (!['-f', '-v', '-n', '-T', '--force', '--verbose', '--no-clobber', '-i'].includes(k)) return fail(1, `lab: mv ${k} is not simulated\n`);
  const operands = [...g.operands];
  if (operands.length === 0) return missingOperand('mv');
  if (operands.length === 1) return fail(1, `mv: missing destination file operand after '${operands[0]}'\nTry 'mv --help' for more information.\n`);
  const dest = operands.pop()!;
  const verbose = opts.has('-v') || opts.has('--verbose');
  const noClobber = opts.has('-n') || opts.has('--no-clobber');
  const destIsDir = files.isDir(dest) && !opts.has('-T');
  if (operands.length > 1 && !destIsDir) return fail(1, `mv: target '${dest}' is not a directory\n`);
  let stdout = '';
  let stderr = '';
  const moves: { from: string; to: string }[] = [];
  for (const src of operands) {
    if (!files.exists(src)) {
      stderr += files.isDir(src) ? `lab: moving directories is not simulated ('${src}')\n` : `mv: cannot stat '${src}': No such file or directory\n`;
      continue;
    }
    const target = destIsDir ? posix.join(resolvePath(dest), posix.basename(src)) : dest;
    if (!files.isDir(posix.dirname(resolvePath(target)))) {
      stderr += `mv: cannot move '${src}' to '${target}': No such file or directory\n`;
      continue;
    }
    if (noClobber && files.exists(target)) continue;
    files.move(src, target);
    moves.push({ from: resolvePath(src), to: resolvePath(target) });
    if (verbose) stdout += `renamed '${src}' -> '${target}'\n`;
  }
  const result: CommandResult = { stdout, stderr, exitCode: stderr ? 1 : 0 };
  if (moves.length > 0) result.mutation = { kind: 'file_move', applied: true, detail: { moves } };
  return result;
}

function parseMode(text: string): number | undefined {
  return /^[0-7]{1,4}$/.test(text) ? parseInt(text, 8) : undefined;
}

/**
 * install SRC DST / install -d DIR...: SRC may be /dev/stdin (what the SSH client sent). Without -m the
 * mode is 0755, like GNU install; the owner is root unless -o/-g.
 */
export function install(files: HostFiles, args: readonly string[], stdin: string | null): CommandResult {
  const g = getopt(
    args,
    { '-m': '-m', '--mode': '-m', '-o': '-o', '--owner': '-o', '-g': '-g', '--group': '-g', '-t': '-t', '--target-directory': '-t' },
    'install',
  );
  if (!g.ok) return g.result;
  const { opts, operands } = g;
  for (const k of opts.keys()) {
    if (!['-m', '-o', '-g', '-D', '-d', '-T', '-v', '-C', '-t', '--verbose', '--compare', '--directory', '-p', '--preserve-timestamps'].includes(k)) {
      return fail(1, `lab: install ${k} is not simulated\n`);
    }
  }
  const modeText = opts.get('-m');
  const mode = typeof modeText === 'string' ? parseMode(modeText) : undefined;
  if (typeof modeText === 'string' && mode === undefined) {
    return fail(1, /^[ugoa]*[-+=]/.test(modeText) ? 'lab: symbolic modes are not simulated; use an octal mode\n' : `install: invalid mode '${modeText}'\n`);
  }
  for (const k of ['-o', '-g'] as const) {
    const who = opts.get(k);
    if (typeof who === 'string' && !passwdLine(who)) return fail(1, `install: invalid ${k === '-o' ? 'user' : 'group'} '${who}'\n`);
  }
  const owner = typeof opts.get('-o') === 'string' ? (opts.get('-o') as string) : 'root';
  const group = typeof opts.get('-g') === 'string' ? (opts.get('-g') as string) : owner === 'root' ? 'root' : owner;
  if (opts.has('-d') || opts.has('--directory')) {
    if (operands.length === 0) return fail(1, "install: missing file operand\nTry 'install --help' for more information.\n");
    for (const d of operands) files.addDir(d, { mode: mode ?? 0o755, owner, group });
    return ok('', { mutation: { kind: 'file_write', applied: true, detail: { directories: operands.map(resolvePath) } } });
  }
  const targetDir = opts.get('-t');
  if (operands.length === 0) return missingOperand('install');
  if (operands.length === 1 && typeof targetDir !== 'string') {
    return fail(1, `install: missing destination file operand after '${operands[0]}'\nTry 'install --help' for more information.\n`);
  }
  const src = operands[0]!;
  const dstArg = typeof targetDir === 'string' ? targetDir : operands[1]!;
  if (operands.length > 2 || (typeof targetDir === 'string' && operands.length > 1)) return fail(1, 'lab: installing several files at once is not simulated\n');
  const fromStdin = src === '/dev/stdin';
  const content = fromStdin ? (stdin ?? '') : files.read(src);
  if (content === undefined) return fail(1, `install: cannot stat '${src}': No such file or directory\n`);
  const dst = files.isDir(dstArg) && !opts.has('-T') ? posix.join(resolvePath(dstArg), posix.basename(src)) : resolvePath(dstArg);
  const parent = posix.dirname(dst);
  if (!files.isDir(parent)) {
    if (!opts.has('-D')) return fail(1, `install: cannot create regular file '${dstArg}': No such file or directory\n`);
    files.addDir(parent);
  }
  if (files.isDir(dst) && !files.exists(dst)) return fail(1, `install: cannot overwrite directory '${dst}' with non-directory\n`);
  files.write(dst, content, { mode: mode ?? 0o755, owner, group });
  const verbose = opts.has('-v') || opts.has('--verbose');
  return ok(verbose ? `'${src}' -> '${dst}'\n` : '', {
    mutation: {
      kind: 'file_write',
      applied: true,
      detail: {
        path: dst,
        mode: (mode ?? 0o755).toString(8).padStart(4, '0'),
        owner,
        bytes: Buffer.byteLength(content),
        source: fromStdin ? 'stdin' : resolvePath(src),
      },
    },
  });
}

/** tee [-a] FILE...: stdin to each file and to stdout. */
export function tee(files: HostFiles, args: readonly string[], stdin: string | null): CommandResult {
  const g = getopt(args, {}, 'tee');
  if (!g.ok) return g.result;
  for (const k of g.opts.keys()) if (!['-a', '--append'].includes(k)) return fail(1, `lab: tee ${k} is not simulated\n`);
  const append = g.opts.has('-a') || g.opts.has('--append');
  const input = stdin ?? '';
  let stderr = '';
  const written: string[] = [];
  for (const f of g.operands) {
    const p = resolvePath(f);
    if (!files.isDir(posix.dirname(p))) {
      stderr += `tee: ${f}: No such file or directory\n`;
      continue;
    }
    if (files.isDir(p) && !files.exists(p)) {
      stderr += `tee: ${f}: Is a directory\n`;
      continue;
    }
    if (append) files.append(p, input);
    else files.write(p, input);
    written.push(p);
  }
  const result: CommandResult = { stdout: input, stderr, exitCode: stderr ? 1 : 0 };
  if (written.length > 0)
    result.mutation = { kind: 'file_write', applied: true, detail: { paths: written, append, bytes: Buffer.byteLength(input), source: 'stdin' } };
  return result;
}

export function cp(files: HostFiles, args: readonly string[]): CommandResult {
  const g = getopt(args, {}, 'cp');
  if (!g.ok) return g.result;
  for (const k of g.opts.keys()) if (!['-p', '-f', '-a', '-v', '--preserve'].includes(k)) return fail(1, `lab: cp ${k} is not simulated\n`);
  if (g.operands.length === 0) return missingOperand('cp');
  if (g.operands.length !== 2)
    return fail(
      1,
      g.operands.length === 1 ? `cp: missing destination file operand after '${g.operands[0]}'\n` : 'lab: copying several files is not simulated\n',
    );
  const [src, dstArg] = g.operands as [string, string];
  const content = files.read(src);
  if (content === undefined)
    return fail(1, files.isDir(src) ? `cp: -r not specified; omitting directory '${src}'\n` : `cp: cannot stat '${src}': No such file or directory\n`);
  const dst = files.isDir(dstArg) ? posix.join(resolvePath(dstArg), posix.basename(src)) : resolvePath(dstArg);
  if (!files.isDir(posix.dirname(dst))) return fail(1, `cp: cannot create regular file '${dstArg}': No such file or directory\n`);
  const preserve = g.opts.has('-p') || g.opts.has('-a') || g.opts.has('--preserve');
  const srcMeta = files.stat(src);
  files.write(dst, content, preserve && srcMeta ? { mode: srcMeta.mode, owner: srcMeta.owner, group: srcMeta.group } : {});
  const out = g.opts.has('-v') ? `'${src}' -> '${dstArg}'\n` : '';
  return ok(out, { mutation: { kind: 'file_write', applied: true, detail: { path: dst, bytes: Buffer.byteLength(content), source: resolvePath(src) } } });
}

export function rm(files: HostFiles, args: readonly string[]): CommandResult {
  const g = getopt(args, {}, 'rm');
  if (!g.ok) return g.result;
  for (const k of g.opts.keys()) if (!['-f', '-v', '--force'].includes(k)) return fail(1, `lab: rm ${k} is not simulated\n`);
  const force = g.opts.has('-f') || g.opts.has('--force');
  if (g.operands.length === 0) return force ? ok('') : missingOperand('rm');
  let stderr = '';
  let stdout = '';
  const removed: string[] = [];
  for (const f of g.operands) {
    if (files.exists(f)) {
      files.remove(f);
      removed.push(resolvePath(f));
      if (g.opts.has('-v')) stdout += `removed '${f}'\n`;
    } else if (files.isDir(f)) stderr += `rm: cannot remove '${f}': Is a directory\n`;
    else if (!force) stderr += `rm: cannot remove '${f}': No such file or directory\n`;
  }
  const result: CommandResult = { stdout, stderr, exitCode: stderr ? 1 : 0 };
  if (removed.length > 0) result.mutation = { kind: 'file_remove', applied: true, detail: { paths: removed } };
  return result;
}

/** test EXPR for the file tests runbooks use: -e -f -s -d -r, optionally negated with "!". */
export function test(files: HostFiles, args: readonly string[]): CommandResult {
  let a = [...args];
  let negate = false;
  if (a[0] === '!') {
    negate = true;
    a = a.slice(1);
  }
  if (a.length === 0) return { stdout: '', stderr: '', exitCode: negate ? 0 : 1 };
  if (a.length === 1) return { stdout: '', stderr: '', exitCode: (a[0] !== '') !== negate ? 0 : 1 };
  if (a.length > 2) return fail(2, 'test: too many arguments\n');
  const [op, path] = a as [string, string];
  const st = files.stat(path);
  let truth: boolean;
  switch (op) {
    case '-e':
    case '-r':
      truth = st !== undefined;
      break;
    case '-f':
      truth = st?.type === 'file';
      break;
    case '-d':
      truth = st?.type === 'dir';
      break;
    case '-s':
      truth = st !== undefined && st.size > 0;
      break;
    default:
      return fail(2, `test: ${op}: unary operator expected\n`);
  }
  return { stdout: '', stderr: '', exitCode: truth !== negate ? 0 : 1 };
}

function symbolic(mode: number, type: 'file' | 'dir'): string {
  const bits = 'rwxrwxrwx';
  let s = type === 'dir' ? 'd' : '-';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? bits[i] : '-';
  return s;
}

function statTime(d: Date): string {
  return `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 23)}000000 +0000`;
}

/** stat [-c FORMAT] FILE...: %a %A %U %G %u %g %s %n %F %Y %y, or the default block. */
export function stat(files: HostFiles, args: readonly string[]): CommandResult {
  const g = getopt(args, { '-c': '-c', '--format': '-c', '--printf': '--printf' }, 'stat');
  if (!g.ok) return g.result;
  for (const k of g.opts.keys()) if (!['-c', '--printf', '-L'].includes(k)) return fail(1, `lab: stat ${k} is not simulated\n`);
  if (g.operands.length === 0) return fail(1, "stat: missing operand\nTry 'stat --help' for more information.\n");
  const fmt = g.opts.get('-c') ?? g.opts.get('--printf');
  let stdout = '';
  let stderr = '';
  for (const f of g.operands) {
    const st = files.stat(f);
    if (!st) {
      stderr += `stat: cannot statx '${f}': No such file or directory\n`;
      continue;
    }
    const uid = (u: string) => String(passwdLine(u)?.split(':')[2] ?? 0);
    if (typeof fmt === 'string') {
      const line = fmt.replace(/%([aAUGugsnFYy%])/g, (_m, c: string) => {
        switch (c) {
          case 'a':
            return st.mode.toString(8);
          case 'A':
            return symbolic(st.mode, st.type);
          case 'U':
            return st.owner;
          case 'G':
            return st.group;
          case 'u':
            return uid(st.owner);
          case 'g':
            return uid(st.group);
          case 's':
            return String(st.size);
          case 'n':
            return f;
          case 'F':
            return st.type === 'dir' ? 'directory' : st.size === 0 ? 'regular empty file' : 'regular file';
          case 'Y':
            return String(Math.floor(st.mtime.getTime() / 1000));
          case 'y':
            return statTime(st.mtime);
          default:
            return '%';
        }
      });
      stdout += g.opts.has('--printf') ? line.replace(/\\n/g, '\n') : `${line}\n`;
      continue;
    }
    const t = statTime(st.mtime);
    stdout +=
      `  File: ${f}\n` +
      `  Size: ${String(st.size).padEnd(10)}\tBlocks: ${String(Math.ceil(st.size / 4096) * 8).padEnd(10)} IO Block: 4096   ${st.type === 'dir' ? 'directory' : 'regular file'}\n` +
      `Device: 253,0\tInode: ${1310000 + (st.size % 9973)}     Links: 1\n` +
      `Access: (${st.mode.toString(8).padStart(4, '0')}/${symbolic(st.mode, st.type)})  Uid: (${uid(st.owner).padStart(5)}/${st.owner.padStart(8)})   Gid: (${uid(st.group).padStart(5)}/${st.group.padStart(8)})\n` +
      `Access: ${t}\nModify: ${t}\nChange: ${t}\n Birth: -\n`;
  }
  return { stdout, stderr, exitCode: stderr ? 1 : 0 };
}
