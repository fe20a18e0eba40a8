/**
 * Reads one trace from Tempo (the lab's, or a fleet's at TEMPO_URL) with
 * GET /api/traces/<traceID>. An unknown trace is NotFound (non-retryable): the
 * triage records that the trace is gone rather than waiting for it.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { Span } from '../../domain/incident-evidence';
import { getJson, type ObservabilityEndpoint } from './observability-http';
import { OtlpTrace, spansFromOtlp } from './spans-from-otlp';

export class TempoClient {
  constructor(private readonly endpoint: ObservabilityEndpoint) {}

  async traceById(traceId: string): Promise<Span[]> {
    if (!/^[0-9a-fA-F]{1,32}$/.test(traceId)) {
      throw ApplicationFailure.create({
        type: ErrorType.InvalidInput,
        message: `not a trace id (up to 32 hex characters): ${JSON.stringify(traceId)}`,
        nonRetryable: true,
      });
    }
    const body = await getJson(this.endpoint, `api/traces/${traceId.toLowerCase()}`, undefined, OtlpTrace, `Tempo trace ${traceId}`);
    try {
      return spansFromOtlp(body);
    } catch (e) {
      throw ApplicationFailure.create({
        type: ErrorType.ObservabilityApiError,
        message: `Tempo trace ${traceId}: ${(e as Error).message}`,
        nonRetryable: true,
      });
    }
  }
}
