import { CliError } from './errors';
import { EXIT, exitCodeForStatus } from './exit-codes';

/** An answer of the API outside 2xx, from its envelope `{ error: { code, message, details } , correlation_id }`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly details: Record<string, unknown>,
    readonly correlationId: string | undefined,
    /** Seconds the API asked to wait before trying again (a 503's Retry-After). */
    readonly retryAfterS?: number,
  ) {
    super(code, message, exitCodeForStatus(status), notesOf(details, correlationId));
    this.name = 'ApiError';
  }
}

/** Tries of a GET or DELETE after a 503 that says when to come back, and the longest wait honoured. */
const RETRIES = 3;
const MAX_RETRY_WAIT_S = 5;

/** No answer at all: connection refused, DNS, TLS, or no answer in time. */
export class ApiUnreachable extends CliError {
  constructor(code: 'api_unreachable' | 'api_timeout', message: string) {
    super(code, message, EXIT.unavailable);
    this.name = 'ApiUnreachable';
  }
}

export interface ApiClientOptions {
  /** e.g. http://127.0.0.1:8080, or a prefix behind a proxy (https://ops.example/gpuaas). */
  baseUrl: string;
  token: string;
  timeoutMs?: number;
  userAgent?: string;
}

export type Query = Record<string, string | number | boolean | undefined>;

export interface Answer<T> {
  status: number;
  body: T;
}

/** The HTTP API with a bearer token; every non-2xx answer becomes an ApiError. */
export class ApiClient {
  private readonly base: string;

  constructor(private readonly opts: ApiClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
  }

  async get<T>(path: string, query: Query = {}): Promise<T> {
    return (await this.request<T>('GET', path, { query })).body;
  }

  async post<T>(path: string, body?: unknown): Promise<Answer<T>> {
    return this.request<T>('POST', path, { body: body ?? {} });
  }

  async delete<T>(path: string, query: Query = {}): Promise<Answer<T>> {
    return this.request<T>('DELETE', path, { query });
  }

  /**
   * One request. A GET or DELETE answered 503 with Retry-After (Temporal slow to answer the API)
   * is tried again, up to RETRIES times: both can be repeated safely. Other methods are not.
   */
  async request<T>(method: string, path: string, opts: { query?: Query; body?: unknown } = {}): Promise<Answer<T>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(method, path, opts);
      } catch (err) {
        const retryAfter = err instanceof ApiError ? err.retryAfterS : undefined;
        if (attempt > RETRIES || retryAfter === undefined || (method !== 'GET' && method !== 'DELETE')) throw err;
        await new Promise((r) => setTimeout(r, Math.min(retryAfter, MAX_RETRY_WAIT_S) * 1000));
      }
    }
  }

  private async once<T>(method: string, path: string, { query = {}, body }: { query?: Query; body?: unknown } = {}): Promise<Answer<T>> {
    const url = new URL(`${this.base}${path}`);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.opts.token}`,
      accept: 'application/json',
      'user-agent': this.opts.userAgent ?? 'gpuaas-runbooks-cli',
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw unreachable(err, `${method} ${url.origin}${url.pathname}`, this.opts.timeoutMs ?? 30_000);
    }
    const text = await res.text();
    const parsed = parseJson(text);
    if (!res.ok) throw errorOf(res, parsed, text);
    return { status: res.status, body: parsed as T };
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The envelope's details are under `error.details`; a route may also spread them into
 * `error` itself. Both are read. A body that is not the envelope (a proxy's HTML page)
 * still gets a code from its status.
 */
function errorOf(res: Response, parsed: unknown, text: string): ApiError {
  const retryAfter = res.status === 503 ? Number.parseInt(res.headers.get('retry-after') ?? '', 10) : Number.NaN;
  const retryAfterS = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined;
  const envelope = (parsed as { error?: unknown; correlation_id?: unknown } | undefined) ?? {};
  const correlationId = typeof envelope.correlation_id === 'string' ? envelope.correlation_id : (res.headers.get('x-correlation-id') ?? undefined);
  const error = envelope.error;
  if (error && typeof error === 'object') {
    const { code, message, details, ...rest } = error as Record<string, unknown>;
    const merged = { ...rest, ...(details && typeof details === 'object' && !Array.isArray(details) ? (details as Record<string, unknown>) : {}) };
    return new ApiError(
      res.status,
      typeof code === 'string' ? code : `http_${res.status}`,
      typeof message === 'string' ? message : res.statusText,
      merged,
      correlationId,
      retryAfterS,
    );
  }
  const firstLine =
    text
      .split('\n')
      .find((l) => l.trim())
      ?.trim() ?? '';
  return new ApiError(res.status, `http_${res.status}`, [res.statusText, firstLine.slice(0, 200)].filter(Boolean).join(': '), {}, correlationId, retryAfterS);
}

/** The lines after `error: code: message`: which fields were invalid, which role was needed. */
function notesOf(details: Record<string, unknown>, correlationId: string | undefined): string[] {
  const notes: string[] = [];
  if (Array.isArray(details['fields'])) {
    for (const f of details['fields'] as { path?: unknown; message?: unknown }[]) notes.push(`${String(f.path ?? '?')}: ${String(f.message ?? '')}`);
  }
  if (typeof details['required_role'] === 'string') notes.push(`needs role ${details['required_role']}`);
  if (Array.isArray(details['known'])) notes.push(`known: ${(details['known'] as unknown[]).join(', ')}`);
  if (correlationId) notes.push(`correlation id ${correlationId}`);
  return notes;
}

function unreachable(err: unknown, what: string, timeoutMs: number): ApiUnreachable {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new ApiUnreachable('api_timeout', `${what}: no answer in ${timeoutMs} ms`);
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? String(err);
  return new ApiUnreachable('api_unreachable', `${what}: ${why}`);
}
