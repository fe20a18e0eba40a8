/**
 * One GET to Loki or Tempo with a timeout, failures typed where they enter: no
 * answer, a timeout or a 5xx/429 is a retryable ObservabilityApiError; any other
 * 4xx is non-retryable (the same query fails the same way); 404 is NotFound.
 */
import { ApplicationFailure } from '@temporalio/common';
import type { z } from 'zod';
import { ErrorType } from '../../domain/errors';

export interface ObservabilityEndpoint {
  baseUrl: string;
  timeoutMs?: number;
  /** Sent as X-Scope-OrgID on a multi-tenant Loki or Tempo. */
  tenant?: string;
  /** Sent as a bearer token (a gateway in front of Loki or Tempo). */
  token?: string;
}

export const DEFAULT_OBSERVABILITY_TIMEOUT_MS = 15_000;

export async function getJson<T>(
  endpoint: ObservabilityEndpoint,
  path: string,
  params: URLSearchParams | undefined,
  schema: z.ZodType<T>,
  what: string,
): Promise<T> {
  const url = new URL(path, endpoint.baseUrl.endsWith('/') ? endpoint.baseUrl : `${endpoint.baseUrl}/`);
  if (params) url.search = params.toString();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (endpoint.tenant) headers['x-scope-orgid'] = endpoint.tenant;
  if (endpoint.token) headers.authorization = `Bearer ${endpoint.token}`;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(endpoint.timeoutMs ?? DEFAULT_OBSERVABILITY_TIMEOUT_MS) });
    text = await res.text();
  } catch (e) {
    throw ApplicationFailure.create({
      type: ErrorType.ObservabilityApiError,
      message: `${what}: ${url.origin}${url.pathname} did not answer: ${(e as Error).message}`,
      details: [{ status: null }],
    });
  }
  if (!res.ok) {
    const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
    throw ApplicationFailure.create({
      type: res.status === 404 ? ErrorType.NotFound : ErrorType.ObservabilityApiError,
      message: `${what} → ${res.status}: ${text.trim().slice(0, 500)}`,
      nonRetryable: !retryable,
      details: [{ status: res.status }],
    });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: ErrorType.ObservabilityApiError,
      message: `${what}: unexpected answer: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`,
      nonRetryable: true,
    });
  }
  return parsed.data;
}
