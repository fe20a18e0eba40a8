import { logEventFromLoki, normalizeLevel, nsToRfc3339 } from '../../capabilities/observability-query/log-event-from-loki';
import { idToHex, OtlpTrace, spansFromOtlp } from '../../capabilities/observability-query/spans-from-otlp';

describe('logEventFromLoki', () => {
  it('takes stream labels first, then | json fields beside them, then the line', () => {
    const e = logEventFromLoki(
      {
        service: 'gpuaas-api',
        host_role: 'platform_control',
        host_name: 'dev-control-1',
        host_role_extracted: 'worker_compute',
        level: 'warning',
        correlation_id: 'c-1',
      },
      '1764842400123456789',
      JSON.stringify({ msg: 'slow', component: 'api', node_id: 'dev-gpu-1', retries: 3, error: '' }),
    );
    expect(e).toEqual({
      ts: '2025-12-04T10:00:00.123456789Z',
      service: 'gpuaas-api',
      host_role: 'platform_control',
      host_name: 'dev-control-1',
      correlation_id: 'c-1',
      node_id: 'dev-gpu-1',
      level: 'warn',
      msg: 'slow',
      component: 'api',
    });
  });

  it('leaves out a host role that is not one (an observability gap, not a guess)', () => {
    const e = logEventFromLoki({ service_name: 'slurmd', host_role: 'gpu' }, '1', '{"message":"m","level":"ERR"}');
    expect(e).toEqual({ ts: '1970-01-01T00:00:00.000000001Z', service: 'slurmd', level: 'error', msg: 'm' });
  });

  it('normalizes levels and keeps nanoseconds', () => {
    expect(['TRACE', 'notice', 'critical', 'panic', undefined, 'verbose'].map(normalizeLevel)).toEqual(['debug', 'info', 'fatal', 'fatal', 'info', 'info']);
    expect(nsToRfc3339('1764842400000000000')).toBe('2025-12-04T10:00:00.000000000Z');
  });
});

describe('spansFromOtlp', () => {
  it('reads ids in hex (OTLP spec) or base64 (Tempo), and refuses anything else', () => {
    expect(idToHex('0AF7651916CD43DD8448EB211C80319C', 16)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(idToHex(Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex').toString('base64'), 16)).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(idToHex('uhQ3nGv5pCs=', 8)).toBe(Buffer.from('uhQ3nGv5pCs=', 'base64').toString('hex'));
    expect(() => idToHex('abc', 8)).toThrow(RangeError);
    expect(() => idToHex(Buffer.from('0102', 'hex').toString('base64'), 8)).toThrow(RangeError);
  });

  it('reads the OTLP spec shape (resourceSpans, hex ids, numeric status codes) as Tempo v2 answers it', () => {
    const trace = OtlpTrace.parse({
      trace: {
        resourceSpans: [
          {
            resource: {
              attributes: [
                { key: 'service.name', value: { stringValue: 'node-agent' } },
                { key: 'host_role', value: { stringValue: 'worker_compute' } },
              ],
            },
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: '5b8efff798038103d269b633813fc60c',
                    spanId: 'eee19b7ec3c1b174',
                    parentSpanId: 'eee19b7ec3c1b173',
                    name: 'node-agent connect',
                    startTimeUnixNano: '1764842400000000000',
                    endTimeUnixNano: 1764842400250000000,
                    attributes: [
                      { key: 'host.name', value: { stringValue: 'dev-gpu-1' } },
                      { key: 'retries', value: { intValue: '3' } },
                      { key: 'tags', value: { arrayValue: { values: [{ stringValue: 'a' }, { boolValue: true }] } } },
                    ],
                    status: { code: 2, message: 'x509: certificate has expired' },
                  },
                ],
              },
            ],
          },
        ],
      },
    });
    expect(spansFromOtlp(trace)).toEqual([
      {
        trace_id: '5b8efff798038103d269b633813fc60c',
        span_id: 'eee19b7ec3c1b174',
        parent_span_id: 'eee19b7ec3c1b173',
        service: 'node-agent',
        name: 'node-agent connect',
        start: '2025-12-04T10:00:00.000000000Z',
        end: '2025-12-04T10:00:00.250000000Z',
        status: 'error',
        status_message: 'x509: certificate has expired',
        host_role: 'worker_compute',
        host_name: 'dev-gpu-1',
        attributes: { retries: '3', tags: '["a","true"]' },
      },
    ]);
  });
});
