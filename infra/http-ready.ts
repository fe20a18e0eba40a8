/** Prometheus and Alertmanager answer GET /-/ready with 200 once they serve; anything else is "not yet". */
export async function probeReady(baseUrl: string, timeoutMs = 2_000): Promise<void> {
  const res = await fetch(new URL('-/ready', baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`), { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`GET /-/ready answered ${res.status}`);
  await res.arrayBuffer();
}
