import { execFileSync } from 'node:child_process';
import { shellQuote, toCommandLine } from '../../capabilities/host/shell-quote';

/** What a real POSIX shell makes of the quoted command line: one argument per line. */
function argvSeenBySh(args: string[]): string[] {
  const out = execFileSync('/bin/sh', ['-c', `printf '%s\\0' ${args.map(shellQuote).join(' ')}`]);
  return out.toString('utf8').split('\0').slice(0, -1);
}

const hostile = [
  'plain',
  'GPU-0b8f6d2c-7e41-4a95-8d3c-1e6b2f9a0c57',
  '--query-gpu=index,uuid,pci.bus_id',
  'two words',
  "it's",
  "'; rm -rf / #",
  '$(reboot)',
  '`id`',
  '${HOME}',
  'a\nb',
  'back\\slash',
  '*',
  '~root',
  '',
  '"double"',
  'semi;colon|pipe&amp>redir<in',
  'ünïcødé',
];

test.each(hostile)('%j reaches the command as exactly one unchanged argument', (arg) => {
  expect(argvSeenBySh([arg])).toEqual([arg]);
});

test('a whole argv survives the shell unchanged', () => {
  expect(argvSeenBySh(hostile)).toEqual(hostile);
});

test('safe words are left bare, everything else single-quoted', () => {
  expect(shellQuote('nvidia-smi')).toBe('nvidia-smi');
  expect(shellQuote('--format=csv,noheader,nounits')).toBe('--format=csv,noheader,nounits');
  expect(shellQuote('two words')).toBe("'two words'");
  expect(shellQuote("it's")).toBe("'it'\\''s'");
  expect(shellQuote('')).toBe("''");
});

test('NUL bytes and empty commands are refused', () => {
  expect(() => shellQuote('a\0b')).toThrow(/NUL/);
  expect(() => toCommandLine([])).toThrow(/empty/);
});
