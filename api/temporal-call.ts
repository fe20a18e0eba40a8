import { isGrpcServiceError, type Client } from '@temporalio/client';
import { ApiError, unavailable } from './errors';

/** How long one API request may wait on Temporal in all before it answers 503. */
export const DEFAULT_TEMPORAL_TIMEOUT_MS = 1_500;

// gRPC status codes that mean "no answer now, try again", as opposed to an answer that says no:
// deadline exceeded; cancelled (the API cancels no call itself, but grpc-js reports some calls cut
// by the deadline as cancelled: seen under load in the storm benchmark); unavailable; and resource
// exhausted (Temporal's rate limits when overloaded).
const GRPC_TRY_AGAIN = new Set([1, 4, 8, 14]);

/** True when `err`, or an error it wraps, is a gRPC status that means Temporal cannot answer now. */
export function isTemporalUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (isGrpcServiceError(e) && GRPC_TRY_AGAIN.has(e.code)) return true;
  }
  return false;
}

/**
 * The time one request may spend on Temporal. Every call made through it shares one
 * deadline, so a request that makes three calls still answers within the budget.
 *
 * Two bounds, because each alone leaks: the gRPC deadline (Connection.withDeadline) stops
 * the call on the wire, but the SDK's retry interceptor sleeps between attempts and only
 * notices the deadline on the next one (measured: up to a second late); the timer bounds
 * the answer. A call that loses the race finishes or fails in the background by its deadline.
 */
export class TemporalBudget {
  readonly deadline: number;

  constructor(
    private readonly client: Client,
    readonly budgetMs: number,
    private readonly pending?: PendingCalls,
  ) {
    this.deadline = Date.now() + budgetMs;
  }

  remainingMs(): number {
    return this.deadline - Date.now();
  }

  /**
   * Waits for `other` (someone else's Temporal work) to settle, but not past this budget:
   * then 503, as if this request had made the calls itself.
   */
  async wait(other: Promise<unknown>): Promise<void> {
    const remaining = this.remainingMs();
    if (remaining <= 0) throw unavailable('temporal_unavailable', `Temporal did not answer within ${this.budgetMs} ms`, { operation: 'wait' });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), remaining);
    });
    try {
      const settled = await Promise.race([
        other.then(
          () => 'settled',
          () => 'settled',
        ),
        timeout,
      ]);
      if (settled === 'late') throw unavailable('temporal_unavailable', `Temporal did not answer within ${this.budgetMs} ms`, { operation: 'wait' });
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs `fn` (Temporal calls) within the budget. No answer in time, or an unreachable
   * server, becomes a 503 envelope; Temporal's own answers (not found, already started)
   * pass through. `onTimeout` names what a timeout means for calls that wait on a worker.
   */
  async call<T>(operation: string, fn: () => Promise<T>, onTimeout: 'temporal_unavailable' | 'worker_unavailable' = 'temporal_unavailable'): Promise<T> {
    const late = () =>
      onTimeout === 'worker_unavailable'
        ? unavailable(
            'worker_unavailable',
            `no answer to ${operation} within ${this.budgetMs} ms: Temporal is slow or down, or no worker is running this run`,
            { operation },
          )
        : unavailable('temporal_unavailable', `Temporal did not answer ${operation} within ${this.budgetMs} ms`, { operation });
    const remaining = this.remainingMs();
    if (remaining <= 0) throw late();
    let timer: NodeJS.Timeout | undefined;
    const work = this.client.withDeadline(this.deadline, fn);
    // A late failure of the abandoned call must not become an unhandled rejection.
    work.catch(() => undefined);
    this.pending?.add(work);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(late()), remaining);
    });
    try {
      return await Promise.race([work, timeout]);
    } catch (err) {
      if (err instanceof ApiError) throw err;
      if (isTemporalUnreachable(err)) {
        const grpcDeadline = Date.now() >= this.deadline - 5;
        if (grpcDeadline) throw late();
        throw unavailable('temporal_unavailable', `Temporal cannot answer ${operation} now: ${firstLine(err)}`, { operation });
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Temporal calls still running, including those a request gave up waiting for. Closing the
 * connection under one of them makes its next retry throw from a timer ("Channel has been
 * shut down"), so the API waits for them when it closes; each ends by its gRPC deadline.
 */
export class PendingCalls {
  private readonly calls = new Set<Promise<unknown>>();

  add(call: Promise<unknown>): void {
    this.calls.add(call);
    const forget = () => this.calls.delete(call);
    call.then(forget, forget);
  }

  async settled(): Promise<void> {
    await Promise.allSettled([...this.calls]);
  }
}

function firstLine(err: unknown): string {
  const e = err as { cause?: { details?: string }; message?: string };
  return (e.cause?.details ?? e.message ?? String(err)).split('\n')[0]!;
}

/** Each request's own budget for its Temporal calls (the API's timeout, or the default). */
export function requestBudgets(client: Client, timeoutMs: number | undefined, pending: PendingCalls): () => TemporalBudget {
  return () => new TemporalBudget(client, timeoutMs ?? DEFAULT_TEMPORAL_TIMEOUT_MS, pending);
}
