import type { ActivityOptions, LocalActivityOptions, RetryPolicy } from '@temporalio/common';
import { NON_RETRYABLE_ERROR_TYPES } from '../domain/errors';

/**
 * The named activity option sets every runbook proxies its capabilities with,
 * so no runbook keeps its own table of timeouts. Each has a start-to-close
 * fitted to the kind of call, and no attempt limit but a schedule-to-close
 * bound: an outage of the database, the platform API or a host's SSH of
 * minutes is waited out rather than turned into a failed run. Failures that
 * retrying cannot fix are non-retryable by type.
 */
const RETRY: RetryPolicy = { initialInterval: '1s', maximumInterval: '30s', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
const MINUTE = 60_000;

/** A long activity heartbeats every poll; three missed polls (at least 5 s) mean its worker is gone. */
const heartbeatFor = (pollMs: number) => Math.max(5_000, pollMs * 3);

export const ActivityOptionSets = {
  /** Inventory look-ups: in memory, quick. */
  lookup: { startToCloseTimeout: '10s', scheduleToCloseTimeout: '1m', retry: RETRY },
  /** Reads and writes of the engine's own database (remediation history, evidence). */
  records: { startToCloseTimeout: '30s', scheduleToCloseTimeout: '1h', retry: RETRY },
  /** Short read-only commands on a host over SSH. */
  hostRead: { startToCloseTimeout: '2m', scheduleToCloseTimeout: '30m', retry: RETRY },
  /** Calls to the platform API. */
  platformCall: { startToCloseTimeout: '1m', scheduleToCloseTimeout: '1h', retry: RETRY },
  /** Short host jobs (persistence mode, GPU reset): polled, heartbeating, reattached after a crash. */
  hostJob: (pollMs: number): ActivityOptions => ({
    startToCloseTimeout: '10m',
    scheduleToCloseTimeout: '1h',
    heartbeatTimeout: heartbeatFor(pollMs),
    retry: RETRY,
  }),
  /** A wait bounded by the run's own timeout (drain, reboot), heartbeating every poll. */
  boundedWait: (waitMs: number, pollMs: number): ActivityOptions => ({
    startToCloseTimeout: waitMs + MINUTE,
    scheduleToCloseTimeout: waitMs + 30 * MINUTE,
    heartbeatTimeout: heartbeatFor(pollMs),
    retry: RETRY,
  }),
  /** A host job with a budget of its own (a diag level), heartbeating every poll. */
  budgetedJob: (budgetMs: number, pollMs: number): ActivityOptions => ({
    startToCloseTimeout: budgetMs + 5 * MINUTE,
    scheduleToCloseTimeout: 2 * budgetMs + 30 * MINUTE,
    heartbeatTimeout: heartbeatFor(pollMs),
    retry: RETRY,
  }),
} satisfies Record<string, ActivityOptions | ((...args: number[]) => ActivityOptions)>;

/**
 * The step runner's own bookkeeping (runs, steps, evidence): short, idempotent
 * writes, run as local activities so each costs no extra round trip through the
 * server. A database outage of minutes makes the run wait at its next record.
 */
export const BOOKKEEPING_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '30s',
  scheduleToCloseTimeout: '1h',
  retry: { initialInterval: '500ms', maximumInterval: '10s', nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
};
