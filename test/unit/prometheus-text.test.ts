import { parsePrometheusText } from '../../capabilities/orchestrator/prometheus-text';

describe('parsePrometheusText', () => {
  it('reads samples with labels, escapes, infinities and timestamps, skipping comments', () => {
    const text = [
      '# HELP gpu_orchestrator_pending_jobs Jobs delivered and not acknowledged.',
      '# TYPE gpu_orchestrator_pending_jobs gauge',
      'gpu_orchestrator_pending_jobs 12',
      'gpu_orchestrator_worker_pool_memory_bytes{pool_id="pool-a",node_id="dev-gpu-1"} 4294967296',
      'weird{msg="a \\"quoted\\" \\\\ line\\nnext"} +Inf 1712570400000',
      '',
    ].join('\n');
    expect(parsePrometheusText(text)).toEqual([
      { name: 'gpu_orchestrator_pending_jobs', labels: {}, value: 12 },
      { name: 'gpu_orchestrator_worker_pool_memory_bytes', labels: { pool_id: 'pool-a', node_id: 'dev-gpu-1' }, value: 4294967296 },
      { name: 'weird', labels: { msg: 'a "quoted" \\ line\nnext' }, value: Infinity },
    ]);
  });

  it('refuses a line that is not a sample', () => {
    expect(() => parsePrometheusText('<html>502 Bad Gateway</html>')).toThrow(/not a metric sample/);
    expect(() => parsePrometheusText('m{a=b} 1')).toThrow(/bad labels/);
  });
});
