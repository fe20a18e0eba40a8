/**
 * Idempotency-Key handling: the first request with a key is applied and its
 * response stored; a repeat with the same request returns that response without
 * applying anything; a repeat with a different request is refused.
 */
export interface StoredResponse {
  fingerprint: string;
  status: number;
  body: unknown;
  nodeId: string;
}

export const IDEMPOTENCY_HEADER = 'idempotency-key';

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

export function fingerprint(method: string, path: string, body: unknown): string {
  return `${method} ${path} ${JSON.stringify(canonical(body ?? null))}`;
}

export class IdempotencyStore {
  private readonly entries = new Map<string, StoredResponse>();

  get(key: string): StoredResponse | undefined {
    return this.entries.get(key);
  }

  set(key: string, response: StoredResponse): void {
    this.entries.set(key, response);
  }

  clear(): void {
    this.entries.clear();
  }
}
