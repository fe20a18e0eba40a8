import { LabLogStore } from '../../lab/observability/log-store';
import { LogQlSyntaxError, parseLogQuery, tokenize } from '../../lab/observability/logql';
import { runLogQuery } from '../../lab/observability/run-log-query';

const syntaxError = (q: string): LogQlSyntaxError => {
  try {
    parseLogQuery(q);
  } catch (err) {
    expect(err).toBeInstanceOf(LogQlSyntaxError);
    return err as LogQlSyntaxError;
  }
  throw new Error(`expected ${q} to be refused`);
};

describe('LogQL tokens', () => {
  it('splits operators, strings and identifiers with their columns', () => {
    expect(tokenize('{a=~"x\\"y"} |= `raw` != "n"').map((t) => [t.kind, t.text, t.col])).toEqual([
      ['{', '{', 1],
      ['ident', 'a', 2],
      ['op', '=~', 3],
      ['string', 'x"y', 5],
      ['}', '}', 11],
      ['op', '|=', 13],
      ['string', 'raw', 16],
      ['op', '!=', 22],
      ['string', 'n', 25],
      ['eof', '', 28],
    ]);
  });
});

describe('parseLogQuery', () => {
  it("parses seed 000's queries", () => {
    expect(parseLogQuery('{service="gpuaas-api"} | json | correlation_id="c-1"')).toEqual({
      selector: [{ name: 'service', op: '=', value: 'gpuaas-api', regex: undefined }],
      pipeline: [{ kind: 'json' }, { kind: 'label_filter', matcher: { name: 'correlation_id', op: '=', value: 'c-1', regex: undefined } }],
    });
    const q = parseLogQuery('{host_role=~"app_.*", service!="slurmd"} |= "deploy" | json | level!="info"');
    expect(q.selector.map((m) => [m.name, m.op, m.value])).toEqual([
      ['host_role', '=~', 'app_.*'],
      ['service', '!=', 'slurmd'],
    ]);
    expect(q.selector[0]!.regex!.test('app_control')).toBe(true);
    // Label regexes are anchored, as Loki's.
    expect(q.selector[0]!.regex!.test('xapp_control')).toBe(false);
    expect(q.pipeline.map((s) => s.kind)).toEqual(['line_filter', 'json', 'label_filter']);
  });

  it.each([
    ['', 'empty query', 1],
    ['sum(rate({a="b"}[5m]))', 'unexpected character "("', 4],
    ['service="a"', 'a log query starts with a stream selector', 1],
    ['{service="a"', 'expected "," or "}", got end of query', 13],
    ['{service=a}', 'expected a quoted label value', 10],
    ['{service=="a"}', 'expected a quoted label value', 10],
    ['{service=""}', 'at least one regexp or equality matcher', 1],
    ['{service!="x"}', 'at least one regexp or equality matcher', 1],
    ['{service="a"} | logfmt', 'unsupported pipeline stage "logfmt"', 17],
    ['{service="a"} | json foo', 'json takes no parameters', 22],
    ['{service="a"} | json | line_format "{{.msg}}"', 'unsupported pipeline stage "line_format"', 24],
    ['{service="a"} |= "unterminated', 'unterminated string', 18],
    ['{service=~"(a"}', 'invalid regular expression', 11],
    ['{service="a"} & json', 'unexpected character "&"', 15],
  ])('refuses %j: %s at col %i', (query, detail, col) => {
    const err = syntaxError(query);
    expect(err.message).toContain(detail);
    expect(err.col).toBe(col);
    expect(err.message).toMatch(/^parse error at line 1, col \d+: /);
  });
});

describe('runLogQuery', () => {
  const store = new LabLogStore(10);
  const t0 = Date.parse('2026-12-04T10:00:00Z');
  const at = (s: number) => new Date(t0 + s * 1000);
  store.write(
    { service: 'gpuaas-api', host_role: 'platform_control', host_name: 'dev-control-1' },
    { level: 'info', msg: 'request', correlation_id: 'c-1' },
    at(1),
  );
  store.write(
    { service: 'gpuaas-api', host_role: 'platform_control', host_name: 'dev-control-1' },
    { level: 'error', msg: 'request failed', correlation_id: 'c-2' },
    at(2),
  );
  store.write(
    { service: 'slurmctld', host_role: 'app_control', host_name: 'dev-lab-1' },
    { level: 'fatal', msg: 'bad conf', correlation_id: 'c-1', service: 'inner' },
    at(3),
  );
  store.writeLine({ service: 'slurmctld', host_role: 'app_control', host_name: 'dev-lab-1' }, 'plain text line c-1', at(4));
  const window = { startNs: BigInt(t0) * 1_000_000n, endNs: BigInt(t0 + 10_000) * 1_000_000n, limit: 100, direction: 'forward' as 'forward' | 'backward' };
  const run = (q: string, w: Partial<typeof window> = {}) => runLogQuery(store.all(), parseLogQuery(q), { ...window, ...w });

  it('filters by correlation id after | json, groups by labels, and keeps a clashing field as <name>_extracted', () => {
    const streams = run('{service=~"gpuaas-api|slurmctld"} | json | correlation_id="c-1"');
    expect(streams.map((s) => [s.stream.service, s.stream.correlation_id, s.stream.service_extracted, s.values.length])).toEqual([
      ['gpuaas-api', 'c-1', undefined, 1],
      ['slurmctld', 'c-1', 'inner', 1],
    ]);
  });

  it('marks a line that is not JSON with __error__ and drops it on a field filter', () => {
    const all = run('{host_role="app_control"} | json');
    expect(all.map((s) => s.stream.__error__)).toEqual([undefined, 'JSONParserErr']);
    expect(run('{host_role="app_control"} | json | correlation_id="c-1"').flatMap((s) => s.values.map((v) => v[1]))).not.toContain('plain text line c-1');
    expect(run('{host_role="app_control"} |= "c-1"').flatMap((s) => s.values).length).toBe(2);
    expect(run('{host_role="app_control"} != "plain"').flatMap((s) => s.values).length).toBe(1);
  });

  it('honours the window, the limit and the direction', () => {
    const ts = (q: string, w: Partial<typeof window>) => run(q, w).flatMap((s) => s.values.map((v) => Number(BigInt(v[0]) / 1_000_000_000n) - t0 / 1000));
    expect(ts('{service=~".+"}', { limit: 2 }).sort()).toEqual([1, 2]);
    expect(ts('{service=~".+"}', { limit: 2, direction: 'backward' }).sort()).toEqual([3, 4]);
    // end is exclusive
    expect(ts('{service=~".+"}', { endNs: BigInt(t0 + 3000) * 1_000_000n })).toEqual([1, 2]);
  });

  it('drops the oldest entries past its cap', () => {
    const small = new LabLogStore(2);
    for (let i = 0; i < 3; i++) small.write({ service: 's' }, { level: 'info', msg: `m${i}` }, at(i));
    expect(small.all().map((e) => JSON.parse(e.line).msg)).toEqual(['m1', 'm2']);
  });
});
